"""The embedded default: SmolLM2-135M-Instruct through in-process llama.cpp, for real."""
from __future__ import annotations

import json

import pytest

from conftest import cli
from monkeys_swe.samplers.llamacpp import LlamaCppSampler, default_model_path
from monkeys_swe.tasks.gsm8k import GSM8KTask
from monkeys_swe.types import GenerationParams, SampleRequest

pytestmark = pytest.mark.model


def test_model_ships_in_the_wheel():
    path = default_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_same_seed_same_text_across_slots_and_processes(data_dir):
    task = GSM8KTask()
    problem = task.load(str(data_dir / "gsm8k/test.jsonl"), 1)[0]
    params = GenerationParams(temperature=0.9, top_p=0.95, max_tokens=16, stop=task.stop)
    request = SampleRequest(problem.id, task.messages(problem), (0, 1, 2), (7, 8, 7), params)
    first = list(LlamaCppSampler().generate([request]))
    assert [s.index for s in first] == [0, 1, 2]
    assert all(s.prompt_tokens > 300 and 0 < s.completion_tokens <= 16 and s.latency_s > 0 for s in first)
    assert first[0].text == first[2].text and first[0].seed == first[2].seed == 7
    again = list(LlamaCppSampler().generate([SampleRequest(problem.id, task.messages(problem), (5,), (8,), params)]))
    assert again[0].text == first[1].text  # a fresh process (resume) reproduces slot 1's text


def test_demo_end_to_end(tmp_path, data_dir):
    proc = cli("demo", "--problems", "2", "--samples", "2", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path, check=True)
    assert "4 attempts" in proc.stdout and "4 verified" in proc.stdout and "pass@k" in proc.stdout
    (db,) = list((tmp_path / "runs").glob("*/run.db"))
    summary = json.loads((db.parent / "report" / "summary.json").read_text())
    assert (db.parent / "report" / "coverage.png").stat().st_size > 5000
    # The demo takes the problems with the shortest reference solutions, keeping their test-set ids.
    rows = [json.loads(line) for line in (data_dir / "gsm8k/test.jsonl").open()]
    shortest = sorted(range(len(rows)), key=lambda i: (rows[i]["answer"].count("\n"), len(rows[i]["answer"]), i))[:2]
    assert [p["id"] for p in summary["per_problem"]] == [f"gsm8k-{i}" for i in shortest]
