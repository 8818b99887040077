"""`monkeys-swe solve`: many sampled patches for one issue, each verified in Docker, one chosen.

    monkeys-swe solve pallets__flask-5063 --samples 50 --data swe_bench_lite_test.jsonl.gz --repo-mirror DIR
    monkeys-swe solve --repo ~/src/myproj --issue issue.md --test "pytest tests/test_parser.py" --samples 20 --apply
"""
from __future__ import annotations

from typing import Any

import click
from rich.console import Console

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
@click.option("--apply", "apply_patch", is_flag=True, help="With --repo: git apply the chosen patch to the working tree.")
@click.option("--samples", "-n", default=10, show_default=True, help="Patches to draw.")
@click.option("--backend", "-b", help="llamacpp (default, CPU), openai, vllm or replay.")
@click.option("--model", "-m", help="A GGUF path (llamacpp), a served model name (openai), an HF path (vllm).")
@click.option("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")
@click.option("--api-key", help="API key for --base-url (default: $OPENAI_API_KEY).")
@click.option("--replay-from", help="Earlier run dir or monkey_business JSON (backend replay).")
@click.option("--temperature", type=float, default=0.8, show_default=True)
@click.option("--top-p", type=float)
@click.option("--max-tokens", type=int, default=1024, show_default=True)
@click.option("--seed", type=int, help="Run seed; each attempt's seed derives from it.")
@click.option("--concurrency", type=int, help="Requests in flight (openai backend).")
@click.option("--runs-dir", default="runs", show_default=True, help="Runs go to RUNS_DIR/solve/<instance>-<hash>/.")
@click.option("--context-tokens", type=int, help="Token budget for retrieved code (default: what fits the model).")
@click.option("--localize", is_flag=True, help="Ask the model which files to edit before retrieval.")
@click.option("--stop-on-success", is_flag=True, help="Stop sampling once a candidate resolves.")
@click.option("--no-regression", is_flag=True, help="Skip running the existing tests near each change.")
@click.option("--verify-workers", default=2, show_default=True, help="Concurrent sandboxes.")
@click.option("--timeout", default=1800.0, show_default=True, help="Seconds per verification.")
@click.option("--mode", type=click.Choice(["oneshot", "agent"]), default="oneshot", show_default=True,
              help="oneshot: one SEARCH/REPLACE answer per attempt; agent: a shell-command trajectory per attempt.")
@click.option("--agent-steps", default=30, show_default=True, help="With --mode agent: model replies per trajectory.")
@click.option("--command-timeout", default=60.0, show_default=True, help="With --mode agent: seconds per shell command.")
@click.option("--base-image", help="Base image for builds (default: python:X-slim, else offline Debian).")
def command(instance_id, data, repo_mirror, repo, issue, test_cmd, install, commit, apply_patch, samples,
            context_tokens, localize, stop_on_success, no_regression, verify_workers, timeout, base_image,
            mode, agent_steps, command_timeout, **run: Any) -> None:
    """Draw many patches for one issue, verify each in Docker, and choose one without hidden tests.

    Rerunning the same command resumes the same run.
    """
    from monkeys_swe.solve.run import SolveRequest, apply_to_worktree, solve

    if apply_patch and not repo:
        raise UserError("--apply writes into your working tree: it needs --repo PATH")
    if samples < 1 or verify_workers < 1:
        raise UserError("--samples and --verify-workers must be at least 1")
    console = Console()
    err = Console(stderr=True)
    req = SolveRequest(instance_id=instance_id, data=data, repo_mirror=repo_mirror, repo=repo, issue=issue,
                       test_cmd=test_cmd, install=tuple(install), commit=commit, samples=samples, run=run,
                       context_tokens=context_tokens, localize=localize, stop_on_success=stop_on_success,
                       regression=not no_regression, verify_workers=verify_workers, timeout_s=timeout,
                       base_image=base_image, mode=mode, agent_steps=agent_steps, command_timeout_s=command_timeout)

    def panel(run_dir, config):
        from monkeys_swe.solve.panel import SolvePanel

        err.print(f"[bold cyan]solve[/] {config.samples} attempts, backend {config.backend} -> {run_dir}")
        return SolvePanel(f"solve {instance_id or repo}", run_dir, config.samples,
                          [config.model, config.backend], console=err)

    result = solve(req, panel_factory=panel, status=lambda msg: err.print(f"[dim]{msg}...[/]"))
    print_summary(console, result)
    if apply_patch:
        if not result.patch:
            raise UserError("no candidate applied, so there is nothing to write to the working tree")
        apply_to_worktree(repo, result.patch)
        console.print(f"[green]applied[/] the chosen patch to {repo}")


def print_summary(console: Console, result) -> None:
    from rich.syntax import Syntax
    from rich.table import Table

    s = result.summary
    sel = s["selection"]
    table = Table(title=f"solve {s['instance_id']}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items()))
    rows = [
        ("attempts", str(s["attempts"])), ("statuses", statuses or "-"),
        ("applied", str(s["applied"])), ("pass existing tests", str(s["pass_existing_tests"])),
        ("resolved", str(s["resolved"])), ("unique patches", f"{s['unique_patches']} ({s['unique_applied_patches']} applied)"),
        ("docker verifications", str(s["docker_verifications"])),
        ("pass@1", f"{s['pass@1']:.3f}"),
        ("selection", " -> ".join(f"{k} {v}" for k, v in sel["stages"].items())),
        ("chosen", "none" if sel["index"] is None else
         f"attempt {sel['index']} ({sel['votes']} votes), patch {sel['patch_hash']}"
         + ("" if sel["oracle_resolved"] is None else f", resolved: {sel['oracle_resolved']}")),
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
