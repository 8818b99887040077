"""One writer per run directory; readers are never refused; progress and counts a user sees."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import cli
from monkeys_swe.config import RunConfig
from monkeys_swe.runlock import LOCK_NAME, holder, write_lock
from test_runner import write_sample_sets


def _replay_bench(tmp_path: Path, data_dir: Path) -> tuple[list[str], Path]:
    source = tmp_path / "samples.json"
    write_sample_sets(source, data_dir, n_problems=2)
    args = ["bench", "gsm8k", "--data", str(data_dir / "gsm8k/test.jsonl"), "--limit", "2", "--samples", "4",
            "--backend", "replay", "--replay-from", str(source), "--runs-dir", str(tmp_path / "runs")]
    config = RunConfig(task="gsm8k", data=str(data_dir / "gsm8k/test.jsonl"), limit=2, samples=4, backend="replay",
                       replay_from=str(source), runs_dir=str(tmp_path / "runs"))
    return args, config.run_dir()


def test_a_second_writer_is_refused_in_one_line_and_report_still_reads(tmp_path, data_dir):
    args, run_dir = _replay_bench(tmp_path, data_dir)
    cli(*args, "--no-report", check=True)
    with write_lock(run_dir):  # this process writes the run now
        assert holder(run_dir)["pid"] == os.getpid()
        second = cli(*args)
        lines = second.stderr.strip().splitlines()
        assert second.returncode == 2 and len(lines) == 1, second.stderr
        assert f"is being written by pid {os.getpid()} on " in lines[0] and "another --runs-dir" in lines[0]
        report = cli("report", str(run_dir), check=True)  # readers take no lock
        assert "statuses" in report.stdout
    assert holder(run_dir) is None  # released: the next writer gets it
    cli(*args, "--no-report", check=True)


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, data_dir):
    args, run_dir = _replay_bench(tmp_path, data_dir)
    run_dir.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run_dir / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename}))
    assert holder(run_dir) is None  # nobody holds the flock: a SIGKILLed writer leaves only the file
    proc = cli(*args, "--no-report", check=True)
    assert "done 8 attempts" in proc.stdout


def test_status_counts_in_the_summary_and_its_json(tmp_path, data_dir):
    args, run_dir = _replay_bench(tmp_path, data_dir)
    proc = cli(*args, check=True)
    # per problem: 2 right, 1 wrong, 1 without an answer (write_sample_sets)
    assert "statuses: correct 4, incorrect 2, no_answer 2" in proc.stdout
    summary = json.loads((run_dir / "report" / "summary.json").read_text())
    assert summary["statuses"] == {"correct": 4, "incorrect": 2, "no_answer": 2}


def test_progress_lines_without_a_terminal(tmp_path, data_dir):
    args, _ = _replay_bench(tmp_path, data_dir)
    proc = cli(*args, "--no-report", check=True)  # stderr is a pipe here, as in CI
    err = proc.stderr
    assert "loading model (replay)..." in err and "sampling..." in err
    assert err.index("loading model") < err.index("attempts 0/8") < err.index("attempts 8/8, verified 8, correct 4")


def test_show_gives_prompt_answer_reference_and_verdict(tmp_path, data_dir):
    args, run_dir = _replay_bench(tmp_path, data_dir)
    cli(*args, "--no-report", check=True)
    shown = cli("show", str(run_dir), "gsm8k-0:3", "--lines", "4", check=True).stdout
    assert "verdict    no_answer" in shown and "(none extracted)" in shown and "reference  18" in shown
    assert "prompt (" in shown and "lines not shown" in shown and "I don't know" in shown
    right = cli("show", str(run_dir), "gsm8k-0:0", "--full", check=True).stdout
    assert "answer     18" in right and "lines not shown" not in right
    messages = json.loads(cli("show", str(run_dir), "gsm8k-0:1", "--messages", check=True).stdout)
    assert messages[-1] == {"role": "assistant", "content": "#### 999999"} and messages[-2]["role"] == "user"
    assert "Janet" in messages[-2]["content"]


def test_absurd_sizes_are_refused_before_any_memory_is_used(tmp_path, data_dir):
    args, run_dir = _replay_bench(tmp_path, data_dir)
    args[args.index("--samples") + 1] = "1000000000"
    proc = cli(*args)
    assert proc.returncode == 2 and "samples" in proc.stderr and "100000" in proc.stderr
    assert not (tmp_path / "runs").exists()
