"""Options shared by the commands that start runs (bench, demo, sweep cells)."""
from __future__ import annotations

from typing import Any, Callable

import click
import yaml

from monkeys_swe.config import RunConfig, load_yaml, parse_config
from monkeys_swe.errors import UserError


def _apply(f: Callable, opts: list) -> Callable:
    for opt in reversed(opts):
        f = opt(f)
    return f


def sampling_options(f: Callable | None = None, *, temperature: float | None = None,
                     max_tokens: int | None = None) -> Callable:
    """The sampler's options, declared once for every command that samples (bench, solve, sweep cells).

    A command may give its own defaults (solve samples hotter and longer); None: RunConfig's default."""
    def shown(value: Any) -> dict[str, Any]:
        return {"default": value, "show_default": True} if value is not None else {}

    opts = [
        click.option("--backend", "-b", help="llamacpp (default, CPU), openai, vllm or replay."),
        click.option("--model", "-m", help="Model: a GGUF path (llamacpp), a served model name (openai), an HF path (vllm)."),
        click.option("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
        click.option("--api-key", help="API key for --base-url (default: $OPENAI_API_KEY)."),
        click.option("--replay-from", help="Earlier run dir or monkey_business JSON (backend replay)."),
        click.option("--temperature", type=float, **shown(temperature)),
        click.option("--top-p", type=float),
        click.option("--max-tokens", type=int, **shown(max_tokens)),
        click.option("--seed", type=int, help="Run seed; each attempt's seed derives from it."),
        click.option("--concurrency", type=int, help="Requests in flight (openai backend)."),
    ]
    return _apply(f, opts) if f is not None else (lambda g: _apply(g, opts))


def choice_options() -> list[Callable]:
    """Which problems: applied after loading, in this order, before --limit (monkeys_swe.choose)."""
    return [
        click.option("--ids", help="Only these problem ids: a comma list, or @FILE with one id per line."),
        click.option("--filter", "filter", metavar="REGEX", help="Only problem ids this regular expression finds."),
        click.option("--slice", "slice", metavar="START:STOP[:STEP]",
                     help="Python-style slice of the chosen problems, e.g. 0:50 or ::10."),
    ]


def choice_flags(f: Callable) -> Callable:
    return _apply(f, choice_options())


def run_options(f: Callable) -> Callable:
    opts = [
        click.option("--data", help="Local data file (JSONL, JSONL.gz, JSON, parquet). Default: the task's Hugging Face dataset."),
        *choice_options(),
        click.option("--limit", type=int, help="Use the first N problems (of those chosen by --ids, --filter, --slice)."),
        click.option("--samples", "-n", type=int, help="Attempts per problem (default 8)."),
        sampling_options,
        click.option("--runs-dir", help="Where run directories go (default ./runs)."),
        click.option("--task-arg", "task_arg", multiple=True, metavar="KEY=VALUE",
                     help="A task setting (repeatable), e.g. timeout_s=600; settings that change verdicts "
                          "are part of the run's identity."),
        click.option("--retry-errors/--no-retry-errors", default=None,
                     help="Re-verify attempts whose verdict is an error (default: yes)."),
        click.option("--max-failed-requests", type=int,
                     help="Stop once more requests than this failed after retries (default 8); their slots are filled on a rerun."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML with any of these settings; flags override it."),
    ]
    return _apply(f, opts)


def parse_task_args(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; values read as YAML scalars (600 -> int, true -> bool, text stays text)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--task-arg {pair!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def build_config(task: str | None, config_file: str | None, *, task_arg: tuple[str, ...] = (),
                 extra_task_args: dict[str, Any] | None = None, **flags: Any) -> RunConfig:
    data: dict[str, Any] = load_yaml(config_file) if config_file else {}
    data.update({k: v for k, v in flags.items() if v is not None})
    task_args = {**(data.get("task_args") or {}), **parse_task_args(task_arg),
                 **{k: v for k, v in (extra_task_args or {}).items() if v is not None}}
    if task_args:
        data["task_args"] = task_args
    if task:
        data["task"] = task
    return parse_config(RunConfig, data, config_file or "options")


def _select_engine(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    from harness.engine import EngineError, select

    try:
        select(value)
    except EngineError as exc:
        raise UserError(str(exc)) from exc


def _set_disk_budget(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    from harness.disk import DiskError, parse_size

    try:
        parse_size(value)
    except DiskError as exc:
        raise UserError(f"--disk-budget: {exc}") from exc
    import os

    os.environ["MONKEYS_SWE_DISK_BUDGET"] = value  # read by harness.disk, here and in subprocesses


def engine_options(f: Callable) -> Callable:
    """--engine and --disk-budget: where verification runs (bench, verify, solve, images).
    Both act when parsed and travel in the environment, so subprocesses and local workers follow."""
    opts = [
        click.option("--engine", type=click.Choice(["docker", "podman"]), expose_value=False, is_eager=True,
                     callback=_select_engine,
                     help="Container engine: docker, or podman (its Docker-compatible service; socket from "
                          "CONTAINER_HOST, DOCKER_HOST or /run/podman/podman.sock). Default: DOCKER_HOST's engine."),
        click.option("--disk-budget", expose_value=False, callback=_set_disk_budget, metavar="SIZE",
                     help="Most disk our instance images may hold on the engine, e.g. 40g: refuse a run that "
                          "cannot fit, and prune least-recently-used instance images during long runs."),
    ]
    return _apply(f, opts)
