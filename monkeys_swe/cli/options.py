"""Options shared by the commands that start runs (bench, demo, sweep cells)."""
from __future__ import annotations

from typing import Any, Callable

import click

from monkeys_swe.config import RunConfig, load_yaml, parse_config


def run_options(f: Callable) -> Callable:
    opts = [
        click.option("--data", help="Local data file (JSONL, JSONL.gz, JSON, parquet). Default: the task's Hugging Face dataset."),
        click.option("--limit", type=int, help="Use the first N problems."),
        click.option("--samples", "-n", type=int, help="Attempts per problem (default 8)."),
        click.option("--backend", "-b", help="llamacpp (default, CPU), openai, vllm or replay."),
        click.option("--model", "-m", help="Model: a GGUF path (llamacpp), a served model name (openai), an HF path (vllm)."),
        click.option("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
        click.option("--api-key", help="API key for --base-url (default: $OPENAI_API_KEY)."),
        click.option("--replay-from", help="Earlier run dir or monkey_business JSON (backend replay)."),
        click.option("--temperature", type=float),
        click.option("--top-p", type=float),
        click.option("--max-tokens", type=int),
        click.option("--seed", type=int, help="Run seed; each attempt's seed derives from it."),
        click.option("--concurrency", type=int, help="Requests in flight (openai backend)."),
        click.option("--runs-dir", help="Where run directories go (default ./runs)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML with any of these settings; flags override it."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def build_config(task: str | None, config_file: str | None, **flags: Any) -> RunConfig:
    data: dict[str, Any] = load_yaml(config_file) if config_file else {}
    data.update({k: v for k, v in flags.items() if v is not None})
    if task:
        data["task"] = task
    return parse_config(RunConfig, data, config_file or "options")
