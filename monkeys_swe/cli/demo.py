"""`monkeys-swe demo`: the first thing a newcomer runs (GSM8K on the embedded CPU model)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from monkeys_swe.cli.bench import run_and_report
from monkeys_swe.config import RunConfig
from monkeys_swe.errors import UserError
from monkeys_swe.tasks.base import load_hf, read_records

LOCAL_GSM8K = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k" / "test.jsonl"


def easiest_gsm8k(source: str | None, count: int, out: Path) -> Path:
    """The `count` test problems with the shortest reference solutions, written as JSONL.

    A 135M-parameter model solves almost none of GSM8K; on its shortest problems it solves a few
    in a few dozen tries, which is enough to watch coverage climb with k."""
    rows = read_records(source) if source else list(load_hf("openai/gsm8k", "test", "main"))
    ranked = sorted(range(len(rows)), key=lambda i: (rows[i]["answer"].count("\n"), len(rows[i]["answer"]), i))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps({"id": f"gsm8k-{i}", **rows[i]}) + "\n" for i in ranked[:count]))
    return out


@click.command()
@click.option("--problems", default=8, show_default=True, help="GSM8K problems to try (the shortest ones).")
@click.option("--samples", default=8, show_default=True, help="Attempts per problem.")
@click.option("--data", help="GSM8K test JSONL (default: ../shared/data if present, else Hugging Face).")
@click.option("--runs-dir", default="runs", show_default=True)
def command(problems: int, samples: int, data: str | None, runs_dir: str) -> None:
    """Repeated sampling on GSM8K with SmolLM2-135M on the CPU: watch coverage grow with k."""
    if problems < 1 or samples < 1:
        raise UserError("--problems and --samples must be at least 1")
    if data is None and LOCAL_GSM8K.exists():
        data = str(LOCAL_GSM8K)
    subset = easiest_gsm8k(data, problems, Path(runs_dir) / f"demo-gsm8k-shortest-{problems}.jsonl")
    config = RunConfig(task="gsm8k", data=str(subset), samples=samples, backend="llamacpp",
                       max_tokens=128, temperature=0.8, runs_dir=runs_dir)
    run_and_report(config)
