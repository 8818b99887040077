"""`monkeys-swe show RUN ATTEMPT`: one attempt of a run, an agent trajectory step by step."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from monkeys_swe.errors import UserError


def _run_dir(run: str) -> Path:
    for path in (Path(run), Path("runs") / run):
        if (path / "run.db").exists():
            return path
    raise UserError(f"no run at {run} (expected a run directory holding run.db)")


def _attempt_key(attempt: str, problem_ids: list[str]) -> tuple[str, int]:
    """ATTEMPT is INDEX (when the run has one problem) or PROBLEM_ID:INDEX."""
    pid, _, idx = attempt.rpartition(":")
    if not idx.isdigit():
        raise UserError(f"ATTEMPT must be INDEX or PROBLEM_ID:INDEX, got {attempt!r}")
    if not pid:
        if len(problem_ids) != 1:
            shown = ", ".join(problem_ids[:5]) + (" ..." if len(problem_ids) > 5 else "")
            raise UserError(f"this run has {len(problem_ids)} problems: write ATTEMPT as PROBLEM_ID:{idx} ({shown})")
        pid = problem_ids[0]
    return pid, int(idx)


def _clip(text: str, lines: int | None) -> str:
    rows = text.rstrip("\n").splitlines()
    if lines is None or len(rows) <= lines:
        return "\n".join(rows)
    half = lines // 2
    return "\n".join([*rows[:half], f"[... {len(rows) - 2 * half} lines not shown: --full shows them ...]", *rows[-half:]])


def render(console, traj, verdict, lines: int | None) -> None:
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    tokens = sum(s.prompt_tokens + s.completion_tokens for s in traj.steps)
    head = Table.grid(padding=(0, 2))
    for key, value in [("problem", traj.problem_id), ("attempt", traj.index), ("seed", traj.seed),
                       ("exit", traj.exit_status or "unfinished (cut short)"), ("steps", len(traj.steps)),
                       ("tokens", tokens), ("wall", f"{traj.detail.get('wall_s', '?')} s"),
                       ("verdict", verdict.status if verdict else "not verified")]:
        head.add_row(Text(key, style="bold"), str(value))
    if traj.detail.get("dropped_files"):
        head.add_row(Text("left out", style="bold"), ", ".join(traj.detail["dropped_files"]) + " (test files)")
    if traj.detail.get("error"):
        head.add_row(Text("error", style="bold red"), str(traj.detail["error"]))
    console.print(Panel(head, title="agent trajectory", border_style="cyan"))
    for s in traj.steps:
        status = {"format_error": "[yellow]format error[/]", "submit": "[green]submit[/]"}.get(s.kind, "")
        if s.kind == "command":
            status = f"exit {s.exit_code}" + (" [red]timed out[/]" if s.timed_out else "")
        title = (f"step {s.step} · {status} · model {s.model_s:.2f} s · exec {s.exec_s:.2f} s · "
                 f"{s.prompt_tokens}+{s.completion_tokens} tok")
        body = Table.grid(padding=(0, 1))
        body.add_column(style="bold", no_wrap=True)
        body.add_column(overflow="fold")
        if s.thought:
            body.add_row("thought", Text(_clip(s.thought, lines), style="italic"))
        if s.command is not None:
            body.add_row("$", Syntax(s.command, "bash", theme="ansi_dark", word_wrap=True))
        elif s.kind == "format_error":
            body.add_row("reply", Text(_clip(s.reply, lines), style="dim"))
            body.add_row("told", Text(s.observation.splitlines()[0], style="yellow"))
        if s.output:
            body.add_row("output", Text(_clip(s.output, lines), style="dim" if s.exit_code == 0 else "red"))
        console.print(Panel(body, title=title, title_align="left",
                            border_style="green" if s.kind == "submit" else "blue"))
    diff = traj.diff or ""
    console.print(Panel(Syntax(diff, "diff", theme="ansi_dark") if diff.strip() else Text("(empty diff)"),
                        title="candidate diff", border_style="magenta"))


def _prompt(config: dict, problem) -> list[dict] | None:
    """The messages the attempt was sampled from, rebuilt by the run's task (None if it cannot be)."""
    from monkeys_swe.config import RunConfig
    from monkeys_swe.registry import make_task

    try:
        cfg = RunConfig(**{k: v for k, v in config.items() if k in RunConfig.model_fields})
        return [dict(m) for m in make_task(cfg).messages(problem)]
    except Exception:  # a task that needs more than the run stores (SWE instances): the question stands in
        return None


def render_attempt(console, problem, sample, verdict, prompt: list[dict] | None, lines: int | None) -> None:
    """A one-shot attempt: prompt, completion, extracted answer, reference, verdict and its detail."""
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    head = Table.grid(padding=(0, 2))
    detail = dict(verdict.detail) if verdict else {}
    error = detail.pop("error", None) or detail.pop("parse_error", None)
    detail.pop("patch", None)
    for key, value in [("problem", problem.id), ("attempt", sample.index), ("seed", sample.seed),
                       ("tokens", f"{sample.prompt_tokens} prompt, {sample.completion_tokens} completion "
                                  f"({sample.finish_reason})"),
                       ("verdict", verdict.status if verdict else "not verified"),
                       ("answer", "(none extracted)" if verdict and verdict.answer is None else
                        (verdict.answer if verdict else "-")),
                       ("reference", problem.answer if problem.answer is not None else "-")]:
        head.add_row(Text(key, style="bold"), Text(str(value)))
    if error:
        head.add_row(Text("error", style="bold red"), Text(_clip(str(error), lines)))
    if detail:
        head.add_row(Text("detail", style="bold"), Text(_clip(json.dumps(detail, indent=1, default=str), lines)))
    console.print(Panel(head, title="attempt", border_style="cyan"))
    if prompt:
        shown = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in prompt)
        console.print(Panel(Text(_clip(shown, lines)), title=f"prompt ({len(prompt)} messages; --messages: as JSON)",
                            border_style="blue"))
    else:
        console.print(Panel(Text(_clip(problem.question, lines)), title="question", border_style="blue"))
    text = _clip(sample.text, lines)
    console.print(Panel(Syntax(text, "diff", theme="ansi_dark", word_wrap=True) if sample.text.lstrip().startswith("diff")
                        else Text(text), title="completion", border_style="magenta"))


@click.command(help="Show one attempt of a run: an agent trajectory (each step's thought, command, "
                    "output, exit code and timing) or a one-shot attempt's text. ATTEMPT is INDEX, "
                    "or PROBLEM_ID:INDEX when the run has several problems.")
@click.argument("run")
@click.argument("attempt")
@click.option("--full", is_flag=True, help="Show whole outputs instead of their first and last lines.")
@click.option("--lines", default=30, show_default=True, help="Lines shown per output without --full.")
@click.option("--messages", "as_messages", is_flag=True, help="Print the trajectory's message list as JSON.")
def command(run: str, attempt: str, full: bool, lines: int, as_messages: bool) -> None:
    from rich.console import Console

    from monkeys_swe.trajectories import TrajectoryStore, has_trajectories
    from monkeys_swe.store import Store

    run_dir = _run_dir(run)
    store = Store(run_dir, create=False)
    try:
        trajectories = TrajectoryStore(run_dir) if has_trajectories(run_dir) else None
        keys = {pid for pid, _ in trajectories.keys()} if trajectories else set()
        keys |= {p.id for p in store.problems()}
        pid, idx = _attempt_key(attempt, sorted(keys))
        verdict = next((v for p, i, v in store.verdicts() if (p, i) == (pid, idx)), None)
        traj = trajectories.load(pid, idx) if trajectories else None
        console = Console(width=None if sys.stdout.isatty() else 150)
        if traj is not None:
            if as_messages:
                click.echo(json.dumps(traj.messages(), indent=1))
            else:
                render(console, traj, verdict, None if full else lines)
            return
        sample = next((s for s in store.samples(pid) if s.index == idx), None)
        if sample is None:
            raise UserError(f"{run_dir} has no attempt {idx} of problem {pid}")
        problem = next(p for p in store.problems() if p.id == pid)
        prompt = _prompt(store.get_meta("config") or {}, problem)
        if as_messages:
            click.echo(json.dumps([*(prompt or [{"role": "user", "content": problem.question}]),
                                   {"role": "assistant", "content": sample.text}], indent=1))
            return
        render_attempt(console, problem, sample, verdict, prompt, None if full else lines)
    finally:
        store.close()
