"""Unknown is not zero: problems (and runs) with no judged attempt have no coverage."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from monkeys_swe.reports import report_run, report_runs
from monkeys_swe.store import Store
from monkeys_swe.types import Problem, Sample, Verdict

PNG = b"\x89PNG\r\n\x1a\n"


def make_run(run_dir: Path, outcomes: dict[str, list[bool | None]]) -> Path:
    """problem -> a verdict per attempt: True/False judged, None an `error` verdict."""
    store = Store(run_dir)
    store.set_meta("config", {"task": "minif2f", "samples": max(map(len, outcomes.values())), "backend": "replay",
                              "model_name": "toy", "temperature": 0.6})
    store.add_problems([Problem(pid, f"theorem {pid}", None) for pid in outcomes])
    for pid, verdicts in outcomes.items():
        for i, ok in enumerate(verdicts):
            store.add_sample(Sample(pid, i, "proof", 10, 20, i, 0.1))
            store.add_verdict(pid, i, Verdict(False, "error", None, {"error": "lean server down"}) if ok is None
                              else Verdict(ok, "correct" if ok else "incorrect", "p" if ok else "q"))
    store.close()
    return run_dir


def test_a_run_with_no_judged_attempt_reports_coverage_unknown_everywhere(tmp_path):
    run = make_run(tmp_path / "run", {"a": [None] * 3, "b": [None] * 3})
    console = Console(record=True, width=200)
    s = report_run(run, console=console, html=True)
    assert s["coverage_unknown"] == "no attempt was judged (6 error verdicts)"
    assert s["coverage_at_1"] is s["coverage_at_n"] is s["majority_at_n"] is None
    assert s["coverage"] == [] and s["selection"] == {} and s["unjudged_problems"] == 2
    assert not s["fit"]["ok"] and s["fit"]["error"].startswith("coverage unknown: no attempt was judged")
    stored = json.loads(Path(s["files"]["summary"]).read_text())
    assert stored["coverage_at_1"] is None and stored["coverage_at_n"] is None and stored["coverage_unknown"]
    text = console.export_text()
    assert "unknown: no attempt was judged" in text and "0.0%" not in text and "never solved" not in text
    for name in ("coverage", "selection", "fit"):
        assert Path(s["files"][name]).read_bytes()[:8] == PNG
    assert "unknown" in Path(s["files"]["html"]).read_text()
    both = report_runs([run, make_run(tmp_path / "other", {"a": [True, False]})], out_dir=tmp_path / "both",
                       console=(console := Console(record=True, width=200)), html=True)
    table = console.export_text()
    assert "unknown" in table and "50.0%" in table  # the unknown run beside a judged one
    assert Path(both["files"]["coverage"]).read_bytes()[:8] == PNG


def test_a_problem_with_no_judged_attempt_is_left_out_of_coverage_and_selection(tmp_path):
    run = make_run(tmp_path / "run", {"a": [True, False], "b": [None, None]})
    console = Console(record=True, width=200)
    s = report_run(run, console=console)
    assert s["coverage_unknown"] is None and s["unjudged_problems"] == 1
    assert s["coverage_at_1"] == pytest.approx(0.5) and s["coverage_at_n"] == pytest.approx(1.0)  # over a only
    assert s["selection"]["majority vote"][-1] == pytest.approx(0.5)
    assert any("1 of 2 problems have no judged attempt" in w for w in s["warnings"])
    assert "1 without a judged attempt left out" in console.export_text()
    assert [r["id"] for r in s["per_problem"]] == ["a", "b"]  # still listed, with its errors
