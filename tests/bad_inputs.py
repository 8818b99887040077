"""Bad inputs a new user makes, each run through the CLI: every one must give one line and a non-zero exit.

Shared by tests/test_bad_inputs.py (the assertion) and benchmarks/bad_inputs.py (the table).
`make_files(dir)` writes the files the cases name; `{d}` in a case is that directory, `{data}` the shared data.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

# (id, argv, a piece of the expected message)
CASES: list[tuple[str, list[str], str]] = [
    # bench: task, sizes, sampling options
    ("bench-no-task", ["bench"], "task"),
    ("bench-unknown-task", ["bench", "nosuch"], "unknown task"),
    ("bench-samples-0", ["bench", "gsm8k", "--samples", "0"], "samples"),
    ("bench-samples-negative", ["bench", "gsm8k", "--samples", "-3"], "samples"),
    ("bench-samples-absurd", ["bench", "gsm8k", "--samples", "1000000000", "--limit", "1"], "samples"),
    ("bench-samples-not-a-number", ["bench", "gsm8k", "--samples", "abc"], "samples"),
    ("bench-limit-0", ["bench", "gsm8k", "--limit", "0"], "limit"),
    ("bench-temperature-negative", ["bench", "gsm8k", "--temperature", "-1"], "temperature"),
    ("bench-top-p-2", ["bench", "gsm8k", "--top-p", "2"], "top_p"),
    ("bench-max-tokens-0", ["bench", "gsm8k", "--max-tokens", "0"], "max_tokens"),
    ("bench-concurrency-0", ["bench", "gsm8k", "--concurrency", "0"], "concurrency"),
    ("bench-max-failed-negative", ["bench", "gsm8k", "--max-failed-requests", "-1"], "max_failed_requests"),
    ("bench-unknown-backend", ["bench", "gsm8k", "--backend", "nosuch"], "unknown backend"),
    ("bench-replay-no-source", ["bench", "gsm8k", "--backend", "replay", "--limit", "1",
                                "--data", "{data}/gsm8k/test.jsonl", "--runs-dir", "{d}/runs"], "replay-from"),
    ("bench-replay-missing-source", ["bench", "gsm8k", "--backend", "replay", "--replay-from", "{d}/nothere",
                                     "--limit", "1", "--data", "{data}/gsm8k/test.jsonl", "--runs-dir", "{d}/runs"],
     "nothere"),
    ("bench-model-missing", ["bench", "gsm8k", "--model", "{d}/nothere.gguf", "--limit", "1",
                             "--data", "{data}/gsm8k/test.jsonl", "--runs-dir", "{d}/runs"], "nothere.gguf"),
    ("bench-model-not-gguf", ["bench", "gsm8k", "--model", "{d}/fake.gguf", "--limit", "1",
                              "--data", "{data}/gsm8k/test.jsonl", "--runs-dir", "{d}/runs"], "fake.gguf"),
    # bench: data files
    ("bench-data-missing", ["bench", "gsm8k", "--data", "{d}/nothere.jsonl", "--runs-dir", "{d}/runs"], "nothere.jsonl"),
    ("bench-data-empty", ["bench", "gsm8k", "--data", "{d}/empty.jsonl", "--runs-dir", "{d}/runs"], "empty.jsonl"),
    ("bench-data-not-json", ["bench", "gsm8k", "--data", "{d}/garbage.jsonl", "--runs-dir", "{d}/runs"], "garbage.jsonl"),
    ("bench-data-directory", ["bench", "gsm8k", "--data", "{d}", "--runs-dir", "{d}/runs"], "data"),
    ("bench-gsm8k-given-math", ["bench", "gsm8k", "--data", "{data}/math/math500_test.jsonl", "--runs-dir", "{d}/runs"],
     "question"),
    ("bench-math-given-gsm8k", ["bench", "math", "--data", "{data}/gsm8k/test.jsonl", "--runs-dir", "{d}/runs"], "gsm8k"),
    ("bench-humaneval-given-gsm8k", ["bench", "humaneval", "--data", "{data}/gsm8k/test.jsonl",
                                     "--runs-dir", "{d}/runs"], "gsm8k"),
    ("bench-gsm8k-given-swebench", ["bench", "gsm8k", "--data", "{data}/swebench/swe_bench_lite_dev.jsonl",
                                    "--runs-dir", "{d}/runs"], "swebench"),
    ("bench-gsm8k-given-humaneval", ["bench", "gsm8k", "--data", "{data}/code/HumanEval.jsonl.gz",
                                     "--runs-dir", "{d}/runs"], "humaneval"),
    # bench: where runs go, settings, config files
    ("bench-runs-dir-is-file", ["bench", "gsm8k", "--data", "{data}/gsm8k/test.jsonl", "--runs-dir", "{d}/afile"], "afile"),
    ("bench-runs-dir-unwritable", ["bench", "gsm8k", "--data", "{data}/gsm8k/test.jsonl", "--runs-dir", "{ro}/runs"],
     "writ"),
    ("bench-task-arg-no-equals", ["bench", "gsm8k", "--task-arg", "noequals"], "KEY=VALUE"),
    ("bench-task-arg-unknown", ["bench", "gsm8k", "--task-arg", "nosuch=1", "--data", "{data}/gsm8k/test.jsonl",
                                "--runs-dir", "{d}/runs"], "nosuch"),
    ("bench-config-missing", ["bench", "gsm8k", "--config", "{d}/nothere.yaml"], "nothere.yaml"),
    ("bench-config-bad-yaml", ["bench", "gsm8k", "--config", "{d}/bad.yaml"], "YAML"),
    ("bench-config-list", ["bench", "gsm8k", "--config", "{d}/list.yaml"], "mapping"),
    ("bench-config-unknown-key", ["bench", "gsm8k", "--config", "{d}/unknown_key.yaml"], "nosuch_key"),
    ("bench-repo-mirror-not-swebench", ["bench", "gsm8k", "--repo-mirror", "{d}", "--data", "{data}/gsm8k/test.jsonl",
                                        "--runs-dir", "{d}/runs"], "swebench"),
    ("bench-unknown-option", ["bench", "gsm8k", "--sample", "3"], "sample"),
    # report / export / show on runs that are not there or not runs
    ("report-nothing", ["report"], "run directory"),
    ("report-missing", ["report", "{d}/nothere"], "nothere"),
    ("report-garbage-db", ["report", "{d}/garbage_run"], "garbage_run"),
    ("report-empty-db", ["report", "{d}/empty_run"], "empty_run"),
    ("report-import-no-task", ["report", "--import", "{d}/garbage.jsonl"], "--task"),
    ("report-import-missing", ["report", "--import", "{d}/nothere.json", "--task", "math"], "nothere.json"),
    ("export-missing", ["export", "{d}/nothere", "-o", "{d}/out.jsonl"], "nothere"),
    ("export-garbage-db", ["export", "{d}/garbage_run", "-o", "{d}/out.jsonl"], "garbage_run"),
    ("export-predictions-of-gsm8k", ["export", "{d}/gsm8k_run", "--format", "predictions", "-o", "{d}/out.jsonl"],
     "gsm8k"),
    ("export-unknown-format", ["export", "{d}/gsm8k_run", "--format", "csv", "-o", "{d}/out.csv"], "format"),
    ("show-missing-run", ["show", "{d}/nothere", "0"], "nothere"),
    ("show-bad-attempt", ["show", "{d}/gsm8k_run", "abc"], "ATTEMPT"),
    ("show-no-such-attempt", ["show", "{d}/gsm8k_run", "p1:99"], "99"),
    ("show-no-such-problem", ["show", "{d}/gsm8k_run", "nosuch:0"], "nosuch"),
    ("show-garbage-db", ["show", "{d}/garbage_run", "0"], "garbage_run"),
    # verify
    ("verify-no-mode", ["verify"], "exactly one"),
    ("verify-predictions-missing", ["verify", "{d}/nothere.jsonl"], "nothere.jsonl"),
    ("verify-predictions-not-json", ["verify", "{d}/garbage.jsonl", "--data", "{data}/swebench/swe_bench_lite_dev.jsonl"],
     "garbage.jsonl"),
    ("verify-predictions-no-patch", ["verify", "{d}/nopatch.jsonl", "--data", "{data}/swebench/swe_bench_lite_dev.jsonl"],
     "model_patch"),
    ("verify-gold-no-instance", ["verify", "--gold", "--data", "{data}/swebench/swe_bench_lite_dev.jsonl"], "--instance"),
    ("verify-unknown-instance", ["verify", "--gold", "--instance", "nope__nope-1",
                                 "--data", "{data}/swebench/swe_bench_lite_dev.jsonl"], "nope__nope-1"),
    ("verify-patch-no-instance", ["verify", "--patch", "{d}/p.diff"], "--instance"),
    ("verify-pool-size-0", ["verify", "--gold", "--instance", "x", "--pool-size", "0"], "pool-size"),
    ("verify-data-missing", ["verify", "--gold", "--instance", "x", "--data", "{d}/nothere.jsonl"], "nothere.jsonl"),
    ("verify-data-is-gsm8k", ["verify", "--gold", "--instance", "x", "--data", "{data}/gsm8k/test.jsonl"], "gsm8k"),
    ("verify-cache-and-no-cache", ["verify", "--gold", "--instance", "x", "--cache", "{d}/c.db", "--no-cache"], "--cache"),
    # solve
    ("solve-nothing", ["solve"], "instance"),
    ("solve-apply-no-repo", ["solve", "x", "--apply"], "--repo"),
    ("solve-samples-0", ["solve", "x", "--samples", "0"], "samples"),
    ("solve-samples-absurd", ["solve", "--repo", "{d}/repo", "--issue", "{d}/issue.md", "--test", "true",
                              "--samples", "1000000000", "--runs-dir", "{d}/runs"], "samples"),
    ("solve-unknown-instance", ["solve", "nope__nope-1", "--data", "{data}/swebench/swe_bench_lite_dev.jsonl"],
     "nope__nope-1"),
    ("solve-repo-not-git", ["solve", "--repo", "{d}", "--issue", "{d}/issue.md", "--test", "true",
                            "--runs-dir", "{d}/runs"], "git"),
    ("solve-repo-missing", ["solve", "--repo", "{d}/nothere", "--issue", "{d}/issue.md", "--test", "true"], "nothere"),
    ("solve-repo-no-issue", ["solve", "--repo", "{d}/repo", "--test", "true"], "--issue"),
    ("solve-issue-empty", ["solve", "--repo", "{d}/repo", "--issue", "{d}/empty.md", "--test", "true",
                           "--runs-dir", "{d}/runs"], "empty"),
    ("solve-bad-commit", ["solve", "--repo", "{d}/repo", "--issue", "{d}/issue.md", "--test", "true",
                          "--commit", "nosuchcommit", "--runs-dir", "{d}/runs"], "nosuchcommit"),
    ("solve-runs-dir-is-file", ["solve", "--repo", "{d}/repo", "--issue", "{d}/issue.md", "--test", "true",
                                "--runs-dir", "{d}/afile"], "afile"),
    ("solve-select-tests-without-tests", ["solve", "x", "--select", "tests"], "--tests"),
    # sweep, images
    ("sweep-missing", ["sweep", "{d}/nothere.yaml"], "nothere.yaml"),
    ("sweep-bad-yaml", ["sweep", "{d}/bad.yaml"], "YAML"),
    ("images-unknown-subcommand", ["images", "nosuch"], "nosuch"),
]


def make_files(d: Path, data: Path) -> None:
    """The files and directories the cases name."""
    import sqlite3

    d.mkdir(parents=True, exist_ok=True)
    (d / "empty.jsonl").write_text("")
    (d / "garbage.jsonl").write_text("this is { not json\n")
    (d / "nopatch.jsonl").write_text(json.dumps({"instance_id": "marshmallow-code__marshmallow-1343"}) + "\n")
    (d / "fake.gguf").write_text("not a model\n")
    (d / "afile").write_text("a file, not a directory\n")
    (d / "bad.yaml").write_text("samples: [1, 2\n")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "unknown_key.yaml").write_text("task: gsm8k\nnosuch_key: 3\n")
    (d / "p.diff").write_text("")
    (d / "issue.md").write_text("The parser crashes on empty input.\n")
    (d / "empty.md").write_text("  \n")
    ro = d / "readonly"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    (d / "garbage_run").mkdir(exist_ok=True)
    (d / "garbage_run" / "run.db").write_bytes(b"this is not a database" * 100)
    (d / "empty_run").mkdir(exist_ok=True)
    sqlite3.connect(d / "empty_run" / "run.db").close()
    repo = d / "repo"
    if not repo.exists():
        repo.mkdir()
        (repo / "parser.py").write_text("def parse(text):\n    return text.split()[0]\n")
        for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
            subprocess.run(["git", *args], cwd=repo, check=True)
    _gsm8k_run(d / "gsm8k_run")


def _gsm8k_run(run_dir: Path) -> None:
    """A small stored GSM8K run (no model: the store is written directly)."""
    from monkeys_swe.config import RunConfig
    from monkeys_swe.store import Store
    from monkeys_swe.types import Problem, Sample, Verdict

    if (run_dir / "run.db").exists():
        return
    store = Store(run_dir)
    store.set_meta("config", {**RunConfig(task="gsm8k", samples=1).identity(), "model_name": "m"})
    store.add_problems([Problem(id="p1", question="1+1?", answer="2", data={})])
    store.add_sample(Sample("p1", 0, "The answer is 2", 5, 4, 1, 0.1, "stop", {}))
    store.add_verdict("p1", 0, Verdict(True, "correct", "2", {}))
    store.close()


def expand(argv: list[str], d: Path, data: Path) -> list[str]:
    import os

    ro = "/sys/monkeys-swe-test" if os.geteuid() == 0 else str(d / "readonly")  # root writes anywhere else
    return [a.replace("{d}", str(d)).replace("{data}", str(data)).replace("{ro}", ro) for a in argv]


def run_all(d: Path, data: Path, cases: list[tuple[str, list[str], str]] = CASES, parallel: int = 3
            ) -> dict[str, tuple[int, str]]:
    """{case id: (exit status, stderr)}: each case is `monkeys-swe ARGS` in a process forked from one
    that imported the CLI once (the console script's `main`, as a user runs it; interpreter start-up is
    paid once, not 80 times)."""
    import os
    import sys

    import importlib

    from monkeys_swe.cli import COMMANDS, main
    from monkeys_swe.registry import TASKS, task_class

    for module, _ in COMMANDS.values():  # imported once here, not in every child
        importlib.import_module(module)
    for name in TASKS:
        task_class(name)
    import harness.instance, monkeys_swe.solve.run, monkeys_swe.runner  # noqa: E401,F401

    out = d / "_stderr"
    out.mkdir(exist_ok=True)
    results: dict[str, tuple[int, str]] = {}
    running: dict[int, str] = {}

    def reap() -> None:
        pid, status = os.wait()
        cid = running.pop(pid)
        results[cid] = (os.waitstatus_to_exitcode(status), (out / f"{cid}.err").read_text())

    for cid, argv, _ in cases:
        while len(running) >= parallel:
            reap()
        pid = os.fork()
        if pid == 0:  # the child: stdout/stderr to files, run, and leave without the parent's cleanup
            code = 70
            try:
                os.chdir(d)
                for fd, name in ((1, f"{cid}.out"), (2, f"{cid}.err")):
                    os.dup2(os.open(out / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
                sys.argv = ["monkeys-swe", *expand(argv, d, data)]
                try:
                    main()
                    code = 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        running[pid] = cid
    while running:
        reap()
    return results


if __name__ == "__main__":  # python tests/bad_inputs.py DIR DATA: the results as JSON on stdout
    import sys

    target, shared = Path(sys.argv[1]), Path(sys.argv[2])
    make_files(target, shared)
    print(json.dumps(run_all(target, shared)))
