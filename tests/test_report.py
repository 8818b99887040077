"""Run reports: numbers against hand computations, files that exist and render, imports, the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from monkeys_swe.published import import_sample_sets
from monkeys_swe.reports import report_run
from monkeys_swe.store import Store
from monkeys_swe.types import Problem, Sample, Verdict
from tests.conftest import cli

PNG = b"\x89PNG\r\n\x1a\n"


def make_run(run_dir: Path, outcomes: dict[str, list[tuple[str | None, bool]]], *, model: str = "toy",
             prompt_tokens: int = 10, completion_tokens: int = 20) -> Path:
    """A run in a real store: problem -> [(answer, correct) per attempt]."""
    store = Store(run_dir)
    n = max(len(v) for v in outcomes.values())
    store.set_meta("config", {"task": "gsm8k", "samples": n, "backend": "replay", "model_name": model, "temperature": 0.6})
    store.add_problems([Problem(pid, f"question {pid}", "7") for pid in outcomes])
    for pid, attempts in outcomes.items():
        for i, (answer, ok) in enumerate(attempts):
            store.add_sample(Sample(pid, i, f"#### {answer}", prompt_tokens if i == 0 else 0, completion_tokens, i, 0.1))
            store.add_verdict(pid, i, Verdict(ok, "correct" if ok else "incorrect", answer))
    store.close()
    return run_dir


def test_report_numbers_match_hand_computation(tmp_path):
    run = make_run(tmp_path / "run", {
        "a": [("7", True), ("3", False), ("3", False), ("3", False)],  # c=1 of 4, majority says 3
        "b": [("7", True), ("7", True), ("1", False), (None, False)],  # c=2 of 4, majority says 7
        "c": [("2", False), ("2", False), (None, False), ("5", False)],  # never solved
    })
    console = Console(record=True, width=160)
    s = report_run(run, console=console)
    assert s["ks"] == [1, 2, 3, 4] and s["problems"] == 3 and s["attempts"] == 12
    # pass@k = 1 - C(n-c, k)/C(n, k): a: 1/4, 1/2, 3/4, 1;  b: 1/2, 5/6, 1, 1;  c: 0.
    want = [(0.25 + 0.5) / 3, (0.5 + 5 / 6) / 3, (0.75 + 1) / 3, 2 / 3]
    np.testing.assert_allclose(s["coverage"], want, atol=1e-12)
    assert s["coverage_at_1"] == pytest.approx(want[0]) and s["coverage_at_n"] == pytest.approx(2 / 3)
    assert s["majority_at_n"] == pytest.approx(1 / 3)  # exact at k = N: only b's vote is right
    assert s["selection"]["majority vote"][0] == pytest.approx(want[0])  # k=1: one attempt, exact
    rows = {r["id"]: r for r in s["per_problem"]}
    assert rows["a"]["top_answer"] == "3" and rows["b"]["correct"] == 2 and rows["c"]["reference"] == "7"
    out = console.export_text()
    assert "pass@k" in out and "majority vote" in out
    rows_by_k = {line.split()[1]: line for line in out.splitlines() if line.startswith("│ ") and line.split()[1].isdigit()}
    assert f"{100 * want[0]:.1f}%" in rows_by_k["1"] and f"{100 * want[3]:.1f}%" in rows_by_k["4"]
    assert f"{100 / 3:.1f}%" in rows_by_k["4"]  # majority vote at k = N
    files = {k: Path(v) for k, v in s["files"].items()}
    assert {"coverage", "selection", "fit", "summary"} <= set(files)
    for name in ("coverage", "selection", "fit"):
        assert files[name].read_bytes()[:8] == PNG and files[name].stat().st_size > 10_000
    assert files["coverage"] == run / "report" / "coverage.png"
    assert json.loads(files["summary"].read_text())["coverage"] == s["coverage"]


def test_degenerate_runs_report_why_there_is_no_fit(tmp_path):
    run = make_run(tmp_path / "zero", {p: [("1", False)] * 5 for p in "abc"})
    s = report_run(run, out_dir=tmp_path / "out")
    assert s["fit"] == {"ok": False, "error": "coverage is zero at every k: no problem was ever solved, nothing to fit"}
    assert (tmp_path / "out" / "fit.png").read_bytes()[:8] == PNG
    solved = make_run(tmp_path / "one", {p: [("7", True)] * 5 for p in "abc"})
    assert "one at every k" in report_run(solved)["fit"]["error"]


def test_compute_matched_axis_is_the_papers_formula(tmp_path, monkeypatch):
    """FLOPs at k: 2*(params + 2*layers*d_model*ctx) per token, prompt once per problem, k decodes.

    The formula itself is cost.py's (tested there); this checks the report's per-k axis and
    dollar scaling against a hand computation for a model listed in a models.yaml.
    """
    params, layers, d_model = 1.0e9, 10, 100
    (tmp_path / "models.yaml").write_text(
        f"models:\n  toy:\n    params: {params}\n    layers: {layers}\n    d_model: {d_model}\n"
        "    price: {prompt_per_m: 1.0, completion_per_m: 4.0}\n")
    monkeypatch.setenv("MONKEYS_SWE_MODELS", str(tmp_path / "models.yaml"))
    run = make_run(tmp_path / "run", {"a": [("7", True), ("1", False)], "b": [("2", False), ("7", True)]},
                   prompt_tokens=3, completion_tokens=2)
    s = report_run(run)

    def per_token(ctx):
        return 2 * (params + 2 * layers * d_model * ctx)

    prompt = sum(per_token(t) for t in (1, 2, 3))  # the prompt's t-th token attends to t tokens
    decode = sum(per_token(t) for t in (4, 5))  # a sample's tokens attend to the prompt and themselves
    assert s["flops_at_k"] == pytest.approx([2 * (prompt + 1 * decode), 2 * (prompt + 2 * decode)], rel=1e-12)
    assert s["flops"] == pytest.approx(s["flops_at_k"][-1], rel=1e-12)
    # 6 prompt tokens billed once, 8 completion tokens; at k=1 half the completions.
    assert s["dollars"] == pytest.approx((6 * 1.0 + 8 * 4.0) / 1e6)
    assert s["dollars_at_k"][0] == pytest.approx((6 * 1.0 + 4 * 4.0) / 1e6)
    assert (run / "report" / "compute.png").read_bytes()[:8] == PNG
    assert (run / "report" / "cost.png").read_bytes()[:8] == PNG


def test_import_keeps_published_verdicts_and_verifies_the_rest(tmp_path):
    records = [
        # is_corrects are kept as published, even where our verifier would disagree (slot 1).
        {"id": "p1", "question": "What is 2+2?", "gt_answer": "4", "samples": ["#### 4", "#### 5", "#### 5"],
         "is_corrects": [True, True, False]},
        # only gt_answer: judged by the gsm8k verifier through the ordinary runner
        {"question": "What is 3+3?", "gt_answer": "6", "samples": ["so #### 6", "#### 7", "no idea"]},
    ]
    src = tmp_path / "mb.json"
    src.write_text(json.dumps(records))
    run = import_sample_sets(src, task="gsm8k", runs_dir=tmp_path / "runs")
    store = Store(run, create=False)
    verdicts = {(pid, i): v for pid, i, v in store.verdicts()}
    assert [verdicts[("p1", i)].correct for i in range(3)] == [True, True, False]
    assert verdicts[("p1", 1)].answer == "5"  # the vote groups by the task's normalized answer
    other = next(p.id for p in store.problems() if p.id != "p1")
    assert [verdicts[(other, i)].status for i in range(3)] == ["correct", "incorrect", "no_answer"]
    store.close()
    assert import_sample_sets(src, task="gsm8k", runs_dir=tmp_path / "runs") == run  # a rerun resumes, no duplicates
    assert Store(run, create=False).counts()["attempts"] == 6
    s = report_run(run)
    assert s["coverage_at_n"] == 1.0 and s["coverage_at_1"] == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_import_refuses_records_it_cannot_judge(tmp_path):
    src = tmp_path / "bad.json"
    src.write_text(json.dumps([{"question": "q", "samples": ["a"]}]))
    proc = cli("report", "--import", str(src), "--task", "gsm8k", "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2 and "neither is_corrects nor gt_answer" in proc.stderr


def test_cli_overlays_several_runs_in_one_html_page(tmp_path):
    a = make_run(tmp_path / "a", {p: [("7", i % 3 == 0) for i in range(6)] for p in "xyz"}, model="model-a")
    b = make_run(tmp_path / "b", {p: [("7", i % 2 == 0) for i in range(6)] for p in "xyz"}, model="model-b")
    proc = cli("report", str(a), str(b), "--html", "--out", str(tmp_path / "both"), check=True)
    assert "model-a" in proc.stdout and "model-b" in proc.stdout
    combined = json.loads((tmp_path / "both" / "summary.json").read_text())
    assert [r["model"] for r in combined["runs"]] == ["model-a", "model-b"]
    page = (tmp_path / "both" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "model-b" in page  # coverage, selection, fit
    assert (a / "report" / "summary.json").exists()  # each run also gets its own report
    proc = cli("report", str(tmp_path / "missing"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: no run at")
