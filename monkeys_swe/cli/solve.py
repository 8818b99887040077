"""`monkeys-swe solve`: many sampled patches for one issue, each verified in Docker, one chosen.

    monkeys-swe solve pallets__flask-5063 --samples 50 --data swe_bench_lite_test.jsonl.gz --repo-mirror DIR
    monkeys-swe solve --repo ~/src/myproj --issue issue.md --test "pytest tests/test_parser.py" --samples 20 --apply
    monkeys-swe solve --repo ~/src/myproj --issue issue.md --samples 40 --tests 10   # model-written tests judge
    monkeys-swe solve pallets__flask-5063 --samples 50 --tests 10 --judge            # tests rank; oracle beside
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from monkeys_swe.cli.options import engine_options, sampling_options
from monkeys_swe.errors import UserError


@click.command()
@click.argument("instance_id", required=False)
@click.option("--data", help="SWE-bench instances: a local .jsonl/.jsonl.gz/.json file, or a Hugging Face "
                             "dataset name (default princeton-nlp/SWE-bench_Lite).")
@click.option("--repo-mirror", type=click.Path(file_okay=False),
              help="Directory of git mirrors: DIR/owner__name.git (or DIR/name.git, ...).")
@click.option("--repo", type=click.Path(), help="Solve an issue in your own git repository instead.")
@click.option("--issue", help="With --repo: the issue, as a file or as text.")
@click.option("--test", "test_cmd", help="With --repo: the test command; exit status 0 means fixed.")
@click.option("--install", multiple=True, help="With --repo: a setup command run in the image (repeatable).")
@click.option("--commit", default="HEAD", show_default=True, help="With --repo: the commit to snapshot.")
@click.option("--apply", "apply_patch", is_flag=True,
              help="With --repo: git apply the chosen patch to the working tree, if it passed the test command.")
@click.option("--force-apply", is_flag=True, help="With --apply: write the chosen patch even if it did not pass.")
@click.option("--samples", "-n", default=10, show_default=True, help="Patches to draw.")
@click.option("--tests", "tests", default=0, show_default=True,
              help="Model-written reproduction tests to draw; those that fail at the base commit rank the candidates "
                   "(and, with --repo and no --test, judge them).")
@click.option("--select", "selector",
              help="tests: most reproduction tests passed, then vote (default with --tests); "
                   "vote: existing tests near the change, then majority vote; or a selection pipeline "
                   "(stages joined by '>', monkeys_swe/pipeline.py), e.g. 'applies > existing-tests > repro > vote'.")
@click.option("--judge", "use_judge", is_flag=True,
              help="Finally, ask the model to choose among the top candidates (at most 4).")
@sampling_options(temperature=0.8, max_tokens=1024)  # patches: hotter and longer than bench's defaults
@click.option("--runs-dir", default="runs", show_default=True, help="Runs go to RUNS_DIR/solve/<instance>-<hash>/.")
@click.option("--context-tokens", type=int, help="Token budget for retrieved code (default: what fits the model).")
@click.option("--localize", is_flag=True, help="Ask the model which files to edit before retrieval.")
@click.option("--stop-on-success", is_flag=True, help="Stop sampling once a candidate resolves.")
@click.option("--no-regression", is_flag=True, help="Skip running the existing tests near each change.")
@click.option("--verify-workers", default=2, show_default=True, help="Concurrent sandboxes.")
@click.option("--timeout", default=1800.0, show_default=True, help="Seconds per verification.")
@click.option("--cache", "verdict_cache", type=click.Path(dir_okay=False),
              help="A verdict cache (SQLite) that every Docker run of this solve reads and fills (default: none).")
@click.option("--mode", type=click.Choice(["oneshot", "agent"]), default="oneshot", show_default=True,
              help="oneshot: one SEARCH/REPLACE answer per attempt; agent: a shell-command trajectory per attempt.")
@click.option("--agent-steps", default=30, show_default=True, help="With --mode agent: model replies per trajectory.")
@click.option("--command-timeout", default=60.0, show_default=True, help="With --mode agent: seconds per shell command.")
@click.option("--base-image", help="Base image for builds (default: python:X-slim, else offline Debian).")
@engine_options
def command(instance_id, data, repo_mirror, repo, issue, test_cmd, install, commit, apply_patch, force_apply, samples,
            context_tokens, localize, stop_on_success, no_regression, verify_workers, timeout, base_image,
            mode, agent_steps, command_timeout, tests, selector, use_judge, verdict_cache, **run: Any) -> None:
    """Draw many patches for one issue, verify each in Docker, and choose one without hidden tests.

    Rerunning the same command resumes the same run.
    """
    from monkeys_swe.solve.run import SolveRequest, apply_to_worktree, dirty_files, solve

    if apply_patch and not repo:
        raise UserError("--apply writes into your working tree: it needs --repo PATH")
    if force_apply and not apply_patch:
        raise UserError("--force-apply goes with --apply")
    if samples < 1 or verify_workers < 1:
        raise UserError("--samples and --verify-workers must be at least 1")
    if selector and selector not in ("tests", "vote"):
        from monkeys_swe.pipeline import parse

        if use_judge:
            raise UserError("--judge works with --select tests or vote; in a pipeline, end with a judge:NAME stage")
        parse(selector)  # a bad stage is refused before sampling
    if tests < 0 or (selector == "tests" and tests < 1):
        raise UserError("--select tests needs --tests N (N >= 1)" if tests >= 0 else "--tests must be 0 or more")
    console = Console()
    err = Console(stderr=True)
    req = SolveRequest(instance_id=instance_id, data=data, repo_mirror=repo_mirror, repo=repo, issue=issue,
                       test_cmd=test_cmd, install=tuple(install), commit=commit, samples=samples, run=run,
                       context_tokens=context_tokens, localize=localize, stop_on_success=stop_on_success,
                       regression=not no_regression, verify_workers=verify_workers, timeout_s=timeout,
                       base_image=base_image, mode=mode, agent_steps=agent_steps, command_timeout_s=command_timeout,
                       tests=tests, select=selector, judge=use_judge, verdict_cache=verdict_cache)

    def panel(run_dir, config):
        from monkeys_swe.solve.panel import SolvePanel

        err.print(f"[bold cyan]solve[/] {config.samples} attempts, backend {config.backend} -> {run_dir}")
        return SolvePanel(f"solve {instance_id or repo}", run_dir, config.samples,
                          [config.model, config.backend], console=err,
                          resolved_label="pass model-written tests" if req.model_oracle else "resolved")

    if repo and Path(repo).expanduser().is_dir():
        dirty = dirty_files(repo)
        if dirty:
            err.print(f"[yellow]warning:[/] {escape(repo)} has uncommitted changes ({escape(', '.join(dirty[:3]))}"
                      f"{' ...' if len(dirty) > 3 else ''}): solve works on commit {escape(commit)}, without them",
                      highlight=False)
    result = solve(req, panel_factory=panel, status=lambda msg: err.print(f"[dim]{msg}...[/]"),
                   warn=lambda msg: err.print(f"[yellow]warning:[/] {escape(msg)}", highlight=False))
    print_summary(console, result)
    fixed = fixed_count(result.summary)
    if apply_patch:
        if not result.patch:
            raise UserError("no candidate applied, so there is nothing to write to the working tree")
        sel = result.summary["selection"]
        if sel["oracle_resolved"] is not True and sel.get("passes_reproduction_tests") is not True and not force_apply:
            what = f"`{test_cmd}`" if test_cmd else "every model-written reproduction test"
            raise UserError(f"no candidate passed {what}: the working tree is unchanged (the best candidate "
                            f"is in {result.run_dir / 'chosen.patch'}; --force-apply writes it anyway)")
        apply_to_worktree(repo, result.patch)
        console.print(f"[green]applied[/] the chosen patch to {repo}")
    if not fixed:
        what = "passes every model-written reproduction test" if "passes_reproduction_tests" in result.summary \
            else "resolved the issue"
        err.print(f"[yellow]no candidate {what}[/]: the patch shown is the best guess, not a fix (exit {NOTHING_RESOLVED})")
        raise SystemExit(NOTHING_RESOLVED)


# Exit status of `solve` (README, section "solve exit codes"): 0 a candidate resolved (or passed every
# model-written test), 2 bad input, 4 nothing resolved, 130/143 interrupted (rerun to resume).
NOTHING_RESOLVED = 4


def fixed_count(summary: dict) -> int:
    """Attempts that pass the run's oracle: the hidden or given tests, else the model-written ones."""
    if "passes_reproduction_tests" in summary:
        return int(summary.get("passes_reproduction_tests") or 0)
    return int(summary.get("resolved") or 0)


def print_summary(console: Console, result) -> None:
    from rich.syntax import Syntax
    from rich.table import Table

    s = result.summary
    sel = s["selection"]
    table = Table(title=f"solve {s['instance_id']}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items()))
    from monkeys_swe.solve.repro import summary_rows

    model_oracle = "passes_reproduction_tests" in s  # never "resolved": the model wrote the tests
    rows = [
        ("attempts", str(s["attempts"])), ("statuses", statuses or "-"),
        ("caught tampering", f"[red]{s['tampered']}[/red] (wrong attempts; see each verdict's tamper evidence)"
         if s.get("tampered") else "0"),
        ("applied", str(s["applied"])), ("pass existing tests", str(s["pass_existing_tests"])),
        ("pass reproduction tests (model-written)", str(s["passes_reproduction_tests"])) if model_oracle else
        ("resolved", str(s["resolved"])), ("unique patches", f"{s['unique_patches']} ({s['unique_applied_patches']} applied, "
                                                 f"{s.get('unique_semantic', '-')} by meaning)"),
        ("docker verifications", str(s["docker_verifications"])),
        ("repro pass@1", f"{s['repro_pass@1']:.3f}") if model_oracle else ("pass@1", f"{s['pass@1']:.3f}"),
        ("selection", " -> ".join(f"{k} {v}" for k, v in sel["stages"].items())),
        ("chosen" if fixed_count(s) else "chosen (nothing resolved: a guess)", "none" if sel["index"] is None else
         f"attempt {sel['index']} ({sel['votes']} votes), patch {sel['patch_hash']}"
         + ("" if sel["oracle_resolved"] is None else f", resolved: {sel['oracle_resolved']}")
         + ("" if sel.get("passes_reproduction_tests") is None else
            f", passes every reproduction test: {sel['passes_reproduction_tests']}")),
        *summary_rows(s),
        ("tokens", f"{s['prompt_tokens']} prompt, {s['completion_tokens']} completion"
                   + (f" (${s['dollars']:.4f})" if s.get("dollars") is not None else "")),
        ("time", f"image {s['image_s']}s, sampling+verification {s['loop_s']}s, total {s['total_s']}s"),
        ("run", str(result.run_dir)),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    if result.patch:
        console.print(Syntax(result.patch, "diff", theme="ansi_dark", background_color="default"))
        console.print(f"saved: {result.run_dir / 'chosen.patch'}")
