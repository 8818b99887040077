"""`monkeys-swe demo`: the first thing a newcomer runs (GSM8K on the embedded CPU model)."""
from __future__ import annotations

from pathlib import Path

import click

from monkeys_swe.cli.bench import run_and_report
from monkeys_swe.config import RunConfig

LOCAL_GSM8K = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k" / "test.jsonl"


@click.command()
@click.option("--problems", default=5, show_default=True, help="GSM8K problems to try.")
@click.option("--samples", default=8, show_default=True, help="Attempts per problem.")
@click.option("--data", help="GSM8K test JSONL (default: ../shared/data if present, else Hugging Face).")
@click.option("--runs-dir", default="runs", show_default=True)
def command(problems: int, samples: int, data: str | None, runs_dir: str) -> None:
    """Repeated sampling on GSM8K with SmolLM2-135M on the CPU: watch coverage grow with k."""
    if data is None and LOCAL_GSM8K.exists():
        data = str(LOCAL_GSM8K)
    config = RunConfig(task="gsm8k", data=data, limit=problems, samples=samples, backend="llamacpp",
                       max_tokens=160, temperature=0.7, runs_dir=runs_dir)
    run_and_report(config)
