"""Sweeps: a grid of real runs (embedded model and replayed samples) that is killed, resumed and
reported, with the HTML page rendered in headless Chromium."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser import CHROME_FLAGS, chromium
from tests.conftest import REPO, cli

PNG = b"\x89PNG\r\n\x1a\n"
GSM8K_LIMIT = 2  # embedded-model cells: 2 problems x (2 + 3) samples x 48 tokens


def write_published(path: Path, gsm8k: Path) -> None:
    """A monkey_business-style file for the first problems: gt_answer only, judged by our verifier."""
    rows = [json.loads(line) for line in gsm8k.read_text().splitlines()[:GSM8K_LIMIT]]
    records = []
    for i, row in enumerate(rows):
        gold = row["answer"].split("####")[-1].strip()
        samples = [f"#### {gold}" if (i + j) % 3 == 0 else f"#### {j + 1000}" for j in range(4)]
        records.append({"question": row["question"], "gt_answer": gold, "samples": samples})
    path.write_text(json.dumps(records))


def write_sweep(tmp: Path, data: Path, models: list[str]) -> Path:
    cfg = tmp / "sweep.yaml"
    cfg.write_text(
        f"name: t\nout_dir: {tmp / 'sweep'}\n"
        f"base: {{data: {data}, limit: {GSM8K_LIMIT}, max_tokens: 48}}\n"
        "grid:\n  task: gsm8k\n  model:\n" + "".join(f"    - {m}\n" for m in models) +
        "  samples: [2, 3]\n  temperature: [0.7]\n"
    )
    return cfg


def attempts_in(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # created but the schema not yet written
        return 0


def render(page: Path, tmp: Path) -> tuple[Path, str, str]:
    """Screenshot the page, and dump its DOM after load with every image's decoded width recorded."""
    shot = tmp / "screenshot.png"
    base = [chromium(), *CHROME_FLAGS, f"--user-data-dir={tmp / 'chrome-profile'}"]
    proc = subprocess.run([*base, "--window-size=1280,1800", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # A copy of the page with a probe: the report itself has no scripts.
    probe = tmp / "probe.html"
    probe.write_text(page.read_text() + "<script>window.onload = () => document.body.setAttribute("
                     "'data-widths', [...document.images].map(i => i.naturalWidth).join(','));</script>")
    dom = subprocess.run([*base, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return shot, dom.stdout, proc.stderr + dom.stderr


@pytest.mark.model
def test_sweep_killed_midway_resumes_and_reports(tmp_path, data_dir, monkeypatch):
    gsm8k = data_dir / "gsm8k" / "test.jsonl"
    write_published(tmp_path / "published.json", gsm8k)
    # SmolLM2-135M's dimensions (its config.json), so the compute-matched plots have a FLOPs axis.
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  smollm2-135m-instruct:\n    params: 134515008\n    layers: 30\n    d_model: 576\n"
                      "    price: {prompt_per_m: 0.01, completion_per_m: 0.02}\n")
    # PASSIVE: llama.cpp's OpenMP threads sleep instead of spinning at barriers. On a shared,
    # oversubscribed machine spinning made decoding 20-60x slower here (24 tokens: 104 s vs 1.6 s).
    env = {**os.environ, "MONKEYS_SWE_MODELS": str(models), "OMP_WAIT_POLICY": "PASSIVE"}
    cfg = write_sweep(tmp_path, gsm8k, ["{backend: llamacpp, label: smollm2}",
                                        f"{{backend: replay, replay_from: {tmp_path / 'published.json'}, label: published}}"])
    sweep = tmp_path / "sweep"
    first_db = None

    proc = subprocess.Popen([sys.executable, "-m", "monkeys_swe", "sweep", str(cfg)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        dbs = sorted((sweep / "runs").glob("*/run.db")) if (sweep / "runs").exists() else []
        if dbs and attempts_in(dbs[0]) >= 1:
            first_db = dbs[0]
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the sweep ended before it could be killed:\n{proc.stdout.read().decode()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    kept = sqlite3.connect(first_db).execute("SELECT problem_id, idx, text FROM attempts").fetchall()
    assert 1 <= len(kept) < GSM8K_LIMIT * 2, "killed midway: the first cell holds some but not all attempts"

    done = subprocess.run([sys.executable, "-m", "monkeys_swe", "sweep", str(cfg)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    print(out)  # the sweep's summary table, for the test log
    # The killed cell resumed: what it had stored is still there, unchanged, and it is now complete.
    after = dict(((p, i), t) for p, i, t in sqlite3.connect(first_db).execute("SELECT problem_id, idx, text FROM attempts"))
    assert all(after[(p, i)] == t for p, i, t in kept) and len(after) == GSM8K_LIMIT * 2
    state = json.loads((sweep / "sweep.json").read_text())["cells"]
    assert [c["status"] for c in state] == ["done"] * 4 and not any(c["error"] for c in state)
    for c in state:
        con = sqlite3.connect(Path(c["run_dir"]) / "run.db")
        n_att, n_ver = con.execute("SELECT (SELECT COUNT(*) FROM attempts), (SELECT COUNT(*) FROM verdicts)").fetchone()
        assert n_att == n_ver == GSM8K_LIMIT * c["samples"], c
    for name in ("gsm8k-smollm2-n2-t0.7", "gsm8k-published-n3-t0.7", "coverage@N", "FLOPs"):
        assert name in out

    report = sweep / "report"
    for png in ("coverage", "selection", "fit", "compute", "cost"):
        assert (report / f"{png}.png").read_bytes()[:8] == PNG, png
    summary = json.loads((report / "summary.json").read_text())
    assert len(summary["runs"]) == 4 and len(summary["cells"]) == 4
    published = next(r for r in summary["runs"] if r["label"] == "gsm8k-published-n3-t0.7")
    assert published["coverage"] == pytest.approx([1 / 3, 2 / 3, 1.0])  # one right of the 3 replayed, each problem
    assert published["fit"]["ok"] and published["fit"]["extrapolated_ks"][-1] == 30
    assert next(r for r in summary["runs"] if r["label"] == "gsm8k-smollm2-n2-t0.7")["flops"] > 0

    shot, dom, log = render(report / "report.html", tmp_path)
    assert shot.read_bytes()[:8] == PNG and shot.stat().st_size > 50_000  # a page with plots, not a blank one
    widths = dom.split('data-widths="')[1].split('"')[0].split(",")
    assert len(widths) == 5 and all(int(w) > 300 for w in widths), widths  # every plot decoded
    assert "CONSOLE" not in log and "Failed to load" not in log, log[-2000:]

    again = cli("sweep", str(cfg), cwd=tmp_path, check=True)  # complete cells are skipped, not rerun
    assert again.stdout.count("skipped (complete)") >= 4


def test_a_failing_cell_is_reported_and_the_others_go_on(tmp_path, data_dir):
    gsm8k = data_dir / "gsm8k" / "test.jsonl"
    write_published(tmp_path / "published.json", gsm8k)
    cfg = write_sweep(tmp_path, gsm8k, [f"{{backend: replay, replay_from: {tmp_path / 'missing.json'}, label: broken}}",
                                        f"{{backend: replay, replay_from: {tmp_path / 'published.json'}, label: ok}}"])
    proc = cli("sweep", str(cfg), "--no-html", cwd=tmp_path)
    assert proc.returncode == 1
    assert "gsm8k-broken-n2-t0.7: replay source not found" in proc.stdout
    state = {c["name"]: c for c in json.loads((tmp_path / "sweep" / "sweep.json").read_text())["cells"]}
    assert state["gsm8k-broken-n3-t0.7"]["status"] == "failed" and state["gsm8k-ok-n3-t0.7"]["status"] == "done"
    runs = json.loads((tmp_path / "sweep" / "report" / "summary.json").read_text())["runs"]
    assert [r["label"] for r in runs] == ["gsm8k-ok-n2-t0.7", "gsm8k-ok-n3-t0.7"]
    assert not (tmp_path / "sweep" / "report" / "report.html").exists()


@pytest.mark.parametrize("body,message", [
    ("grid:\n  task: gsm8k\n  samples: [0]\n", "samples: Input should be greater than or equal to 1"),
    ("grid:\n  task: gsm8k\n  colour: red\n", "grid.colour: Extra inputs are not permitted"),
    ("base: {samples: 3}\ngrid:\n  task: gsm8k\n", "base.samples: set it in grid"),
    ("grid: [1, 2\n", "not valid YAML"),
])
def test_bad_sweep_configs_fail_in_one_line(tmp_path, body, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(body)
    proc = cli("sweep", str(cfg), cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.docker
def test_no_container_outlives_its_cell(tmp_path, data_dir):
    """HumanEval cells verify in runner containers; the runner closes its task after each cell."""
    import gzip

    import docker

    from harness.docker_util import LABEL
    from monkeys_swe.sweep import load_sweep, run_cell
    from monkeys_swe.tasks.codecontests import HumanEvalTask

    data = data_dir / "code" / "HumanEval.jsonl.gz"
    problems = HumanEvalTask(pool=object()).load(str(data), 2)
    rows = [json.loads(line) for line in gzip.open(data, "rt")][:2]
    published = tmp_path / "published.json"
    published.write_text(json.dumps([{"question": p.question, "samples": [p.question + r["canonical_solution"],
                                                                          p.question + "    return None\n"]}
                                     for p, r in zip(problems, rows)]))
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(f"out_dir: {tmp_path / 'sweep'}\nbase: {{data: {data}, limit: 2}}\n"
                   f"grid:\n  task: humaneval\n  model: [{{backend: replay, replay_from: {published}}}]\n"
                   "  samples: [1, 2]\n  temperature: [0.0]\n")
    _, _, cells = load_sweep(cfg)
    client = docker.from_env()
    ours = {"label": [LABEL, f"{LABEL}.owner-pid={os.getpid()}"]}  # this process's containers only
    for cell in cells:
        run_cell(cell)
        assert cell.status == "done", cell.error
        assert cell.summary["attempts"] == 2 * cell.config.samples and cell.summary["correct_attempts"] == 2
        assert client.api.containers(all=True, filters=ours) == [], f"containers left after {cell.name}"


def test_paths_resolve_next_to_the_config_and_cells_share_samples(tmp_path, data_dir):
    """Run from another directory: data and replay_from are read next to the YAML. Cells equal but for
    their sample count draw each attempt once: later cells copy what earlier ones hold."""
    conf, elsewhere = tmp_path / "conf", tmp_path / "elsewhere"
    (tmp_path / "data").mkdir()
    conf.mkdir()
    elsewhere.mkdir()
    lines = (data_dir / "gsm8k" / "test.jsonl").read_text().splitlines()[:6]
    (tmp_path / "data" / "g.jsonl").write_text("\n".join(lines) + "\n")
    records = []
    for line in lines:
        gold = json.loads(line)["answer"].split("####")[-1].strip()
        records.append({"question": json.loads(line)["question"], "gt_answer": gold,
                        "samples": [f"#### {gold}" if j == 3 else f"#### {j + 1000}" for j in range(4)]})
    (conf / "published.json").write_text(json.dumps(records))
    (conf / "sweep.yaml").write_text(
        "name: shared\nbase: {data: ../data/g.jsonl, max_tokens: 48}\n"
        "grid:\n  task: gsm8k\n  model: [{backend: replay, replay_from: published.json, label: pub}]\n"
        "  samples: [2, 4, 3]\n  temperature: [0.7]\nhtml: false\n")
    proc = cli("sweep", "../conf/sweep.yaml", "--filter", "gsm8k-[135]$", "--slice", "1:", cwd=elsewhere)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cells = {c["samples"]: c for c in json.loads((elsewhere / "sweeps" / "shared" / "sweep.json").read_text())["cells"]}
    assert [cells[n]["status"] for n in (2, 4, 3)] == ["done"] * 3
    n2, n4, n3 = (Path(elsewhere / "sweeps" / "shared" / "runs" / Path(cells[n]["run_dir"]).name) for n in (2, 4, 3))
    assert cells[2]["shared"] is None
    assert cells[4]["shared"] == f"4 attempts from {n2.name}" and cells[3]["shared"] == f"6 attempts from {n4.name}"
    assert "(4 attempts from" in proc.stdout

    def rows(run: Path) -> dict:
        con = sqlite3.connect(run / "run.db")
        return {(p, i): (t, c, s) for p, i, t, c, s in con.execute(
            "SELECT a.problem_id, a.idx, a.text, a.created_at, v.status FROM attempts a JOIN verdicts v USING (problem_id, idx)")}

    r2, r4, r3 = rows(n2), rows(n4), rows(n3)
    assert sorted({p for p, _ in r3}) == ["gsm8k-3", "gsm8k-5"]  # --filter, then --slice 1:
    assert len(r2) == 4 and len(r4) == 8 and len(r3) == 6  # every slot stored and judged
    assert all(r4[k] == v for k, v in r2.items())  # the same rows, not drawn again (same created_at)
    assert all(r3[k] == r4[k] for k in r3)
    summary = {c: json.loads((run / "report" / "summary.json").read_text()) for c, run in (("n4", n4), ("n3", n3))}
    assert summary["n4"]["coverage"][-1] == 1.0 and summary["n3"]["coverage"][-1] == 0.0  # gold is attempt 3
