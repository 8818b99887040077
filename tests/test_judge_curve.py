"""The judge selection curve (issue 16): `report --judge-curve` on a small stored SWE run.

The run is real SQLite and the real `report` command; the judge is the run's own replay backend
with scripted letters (no capable model runs here). The curve must equal an independent
computation over the same sampled subsets with the scripted choices, every decision must be
stored once per finalist set, and a rerun must ask the model nothing.
"""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from conftest import cli

# p1: A fixes; B, C, F, G apply but do not; D fails the reproduction test, E the existing tests.
P1 = [("B", "not_resolved"), ("A", "resolved"), ("C", "not_resolved"), ("F", "not_resolved"), ("B", "not_resolved"),
      ("G", "not_resolved"), ("D", "not_resolved"), ("A", "resolved"), (None, "malformed"), ("E", "not_resolved"),
      ("C", "not_resolved"), ("F", "not_resolved")]
P1_PASSED = {"A": 1, "B": 1, "C": 1, "F": 1, "G": 1, "D": 0, "E": 1}
P2 = [("X", "not_resolved"), ("Y", "resolved"), ("Z", "not_resolved"), ("X", "not_resolved"), ("Y", "resolved")]
RUN = {"p1": P1, "p2": P2}  # p2 has no reproduction tests: its stages are `--select vote`
# the judge's replies by slot (= the order finalist sets are first met; p1 meets 24, p2 4); a reply
# naming no shown candidate ("I cannot tell", or D among three) leaves the stages' choice
SCRIPT = {"p1": list("ABC") + ["I cannot tell"] + list("DBADCABCDDCBA") * 3, "p2": list("BAAB") * 3}
LETTERS = "ABCD"
JUDGE = "judge (est., 20 subsets/k)"


def make_run(root: Path, script: dict[str, list[str]]) -> Path:
    from monkeys_swe.solve.repro_store import ReproStore, ReproTest
    from monkeys_swe.store import Store
    from monkeys_swe.types import Problem, Sample, Verdict

    replay = root / "judge.json"
    write_script(replay, script)
    run_dir = root / "run"
    store = Store(run_dir)
    store.set_meta("config", {"task": "swebench", "samples": 12, "backend": "replay", "replay_from": str(replay),
                              "seed": 0})
    store.add_problems([Problem(pid, f"issue of {pid}", data={"instance": {"repo": "o/r"}}) for pid in RUN])
    rs = ReproStore(store)
    for pid, rows in RUN.items():
        for i, (h, status) in enumerate(rows):
            store.add_sample(Sample(pid, i, "text", 1, 1, i, 0.0))
            store.add_verdict(pid, i, Verdict(status == "resolved", status, h, {
                "patch": f"diff {h}" if h else "", "status": status, "passes_existing_tests": h not in (None, "E")}))
    rs.add_attempt("p1", Sample("p1", 0, "code", 1, 1, 0, 0.0), "t1")
    rs.set_verdict("p1", ReproTest("t1", "reproduces", "code", {}))
    for h, n in P1_PASSED.items():
        rs.set_cells("p1", h, {"t1": ("pass" if n else "fail", {})})
    store.close()
    return run_dir


def write_script(path: Path, script: dict[str, list[str]]) -> None:
    path.write_text(json.dumps([{"id": f"judge:{pid}", "samples": replies} for pid, replies in script.items()]))


def decisions(run_dir: Path) -> list[tuple]:
    db = sqlite3.connect(run_dir / "run.db")
    rows = db.execute("SELECT problem_id, ordinal, candidates, choice, created_at FROM judge_decisions "
                      "ORDER BY problem_id, ordinal").fetchall()
    db.close()
    return rows


def independent(ks: list[int], script: dict[str, list[str]]) -> tuple[list[float], dict[str, list[list[str]]]]:
    """The curve written out again: solve's stages by hand, then the scripted letter of each new
    finalist set (shown in the order the run first saw them), over judge_subsets' subsets."""
    from monkeys_swe.reports.selection_curves import judge_subsets

    curve = [0.0] * len(ks)
    asked: dict[str, list[list[str]]] = {}
    for pid, rows in RUN.items():
        first_in_run = {}
        for i, (h, _) in enumerate(rows):
            first_in_run.setdefault(h, i)
        seen: dict[frozenset, str | None] = {}
        asked[pid] = []
        for x, k in enumerate(ks):
            k = min(k, len(rows))
            subs = judge_subsets(pid, len(rows), k)
            wins = 0
            for sub in subs:
                pool = [(i, rows[i][0]) for i in sub if rows[i][1] in ("resolved", "not_resolved")]
                pool = [(i, h) for i, h in pool if h != "E"] or pool  # existing tests near the change
                if pid == "p1" and pool:  # most reproduction tests passed
                    top = max(P1_PASSED[h] for _, h in pool)
                    pool = [(i, h) for i, h in pool if P1_PASSED[h] == top]
                if not pool:
                    continue
                votes, first = Counter(h for _, h in pool), {}
                for i, h in pool:
                    first.setdefault(h, i)
                ranked = sorted(votes, key=lambda h: (-votes[h], first[h]))
                chosen = ranked[0]  # the vote
                shown = sorted(ranked[:4], key=lambda h: first_in_run[h])
                if len(shown) > 1:
                    key = frozenset(shown)
                    if key not in seen:
                        reply = script[pid][len(seen)] if len(seen) < len(script[pid]) else ""
                        seen[key] = shown[LETTERS.index(reply)] if reply in LETTERS[:len(shown)] else None
                        asked[pid].append(shown)
                    chosen = seen[key] or chosen
                wins += any(h == chosen and s == "resolved" for h, s in rows)
            curve[x] += wins / len(subs) / len(RUN)
    return curve, asked


def test_judge_curve_equals_an_independent_computation_and_a_rerun_asks_nothing(tmp_path):
    run_dir = make_run(tmp_path, SCRIPT)
    plain = cli("report", str(run_dir), check=True)  # no decisions stored, no flag: no judge curve, no call
    report = json.loads((run_dir / "report" / "summary.json").read_text())
    assert JUDGE not in report["selection"] and report["judge_curve"] is None and JUDGE not in plain.stdout

    proc = cli("report", str(run_dir), "--judge-curve", "--html", check=True)
    report = json.loads((run_dir / "report" / "summary.json").read_text())
    expected, asked = independent(report["ks"], SCRIPT)
    assert report["selection"][JUDGE] == pytest.approx(expected, abs=1e-12)
    stored = decisions(run_dir)
    # one decision per distinct finalist set, in the order first met, shown in first-seen order
    assert [(p, o, json.loads(c)) for p, o, c, _, _ in stored] == [
        (pid, o, [f"{h}" for h in shown]) for pid in RUN for o, shown in enumerate(asked[pid])]
    assert len(asked["p1"]) > 5 and len(asked["p2"]) >= 2 and any(len(s) == 4 for s in asked["p1"])
    assert report["judge_curve"]["calls"] == report["judge_curve"]["decisions"] == len(stored)
    # the judge really changes picks: here it is not the stages' curve
    assert report["selection"][JUDGE] != report["selection"]["reproduction tests (model-written)"]
    assert report["selection"][JUDGE][0] == pytest.approx(report["selection"]["random pick"][0])  # k=1: no choice
    assert "judge (est., 20" in proc.stdout and "judge decisions" in proc.stdout  # (the header wraps)
    assert "judge (est., 20 subsets/k)" in (run_dir / "report" / "report.html").read_text()

    # a rerun asks nothing (the replay now scripts other letters: any call would change a row)
    write_script(tmp_path / "judge.json", {pid: ["A"] * 200 for pid in RUN})
    again = cli("report", str(run_dir), "--judge-curve", check=True)
    report2 = json.loads((run_dir / "report" / "summary.json").read_text())
    assert decisions(run_dir) == stored and report2["judge_curve"]["calls"] == 0
    assert report2["selection"][JUDGE] == report["selection"][JUDGE] and "(0 asked this time)" in again.stdout
    # a plain report shows it too once every decision it needs is stored
    cli("report", str(run_dir), check=True)
    assert json.loads((run_dir / "report" / "summary.json").read_text())["selection"][JUDGE] == report["selection"][JUDGE]

    # one decision lost (a run killed midway): a plain report leaves the estimate out; --judge-curve asks for it alone
    db = sqlite3.connect(run_dir / "run.db")
    db.execute("DELETE FROM judge_decisions WHERE problem_id='p2' AND ordinal=1")
    db.commit()
    db.close()
    cli("report", str(run_dir), check=True)
    assert JUDGE not in json.loads((run_dir / "report" / "summary.json").read_text())["selection"]
    write_script(tmp_path / "judge.json", SCRIPT)
    cli("report", str(run_dir), "--judge-curve", check=True)
    report3 = json.loads((run_dir / "report" / "summary.json").read_text())
    assert report3["judge_curve"]["calls"] == 1 and len(decisions(run_dir)) == len(stored)


def test_sweep_style_report_shows_swe_selection_curves_across_instances(tmp_path):
    """Several SWE runs reported together (what `sweep` does at its end): each run's selectors,
    averaged over its instances, in the terminal table, the HTML page and the selection plot."""
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        runs.append(make_run(tmp_path / name, SCRIPT))
    cli("report", str(runs[0]), "--judge-curve", check=True)  # one run with the judge curve, one without
    proc = cli("report", *map(str, runs), "--html", "--out", str(tmp_path / "overlay"), check=True)
    combined = json.loads((tmp_path / "overlay" / "summary.json").read_text())
    a, b = combined["runs"]
    assert JUDGE in a["selection"] and JUDGE not in b["selection"]
    for s in (a, b):
        assert {"random pick", "existing tests + vote", "reproduction tests (model-written)"} <= set(s["selection"])
        # random pick is the mean over the two instances of each one's share of fixes
        assert s["selection"]["random pick"][0] == pytest.approx((2 / 12 + 2 / 5) / 2)
    assert "Selection at k" in proc.stdout and "reproduction tests" in proc.stdout and "judge (est., 20" in proc.stdout
    page = (tmp_path / "overlay" / "report.html").read_text()
    assert page.count("<h2>Selection of") == 2 and JUDGE in page
    assert (tmp_path / "overlay" / "selection.png").stat().st_size > 10_000


def test_judge_curve_on_a_run_that_is_not_swe_is_one_line(tmp_path):
    from monkeys_swe.store import Store
    from monkeys_swe.types import Problem, Sample, Verdict

    store = Store(tmp_path / "run")
    store.set_meta("config", {"task": "gsm8k", "samples": 1})
    store.add_problems([Problem("q", "1+1?", "2")])
    store.add_sample(Sample("q", 0, "2", 1, 1, 0, 0.0))
    store.add_verdict("q", 0, Verdict(True, "correct", "2", {}))
    store.close()
    proc = cli("report", str(tmp_path / "run"), "--judge-curve")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "the judge curve is for SWE runs" in proc.stderr
