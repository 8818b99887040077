"""Runs untrusted programs on tests. It lives INSIDE a runner container (standard library only).

A request is {"jobs": [job, ...]}, the answer {"results": [result, ...]}: one of each per
`docker exec`, or, with --serve, one per line for as long as the exec's stdin stays open
(the pool keeps one such session per container: no exec or interpreter start per program). This script runs as root in the container; every
program runs as `nobody` with rlimits (address space, CPU, file size, processes) and a
wall-clock deadline, in a fresh directory, one test after another, stopping at the first
failure. After each test every process of `nobody` is killed; after each program its files
are removed, so the next program finds the sandbox as the previous one did.

job: code, lang ("python"|"cpp"), kind ("stdio"|"call"|"script"), timeout_s, memory_bytes,
     max_output_bytes, fn_name (call), and tests or tests_key (tests cached per container).
tests: stdio {"input", "output"}; call {"args", "expected": [accepted values]}; script: [{}]
       (passes when the program exits 0, e.g. HumanEval's check()).
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import outputs_match, values_match  # noqa: E402  (copied next to this file)

UID = GID = 65534  # nobody
CACHE = "/opt/monkeys-runner/cache"  # tests, root-only: programs cannot read expected outputs
IO_DIR = "/tmp/.monkeys-io"  # stdin/stdout files, root-only (programs get open descriptors)
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")  # where `nobody` can write; cleaned after each program
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
RESULT_MARK = "\x00monkeys-result\x00"
MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
CALL_DRIVER = """import json, sys
args = json.load(open("args.json"))
ns = {"__name__": "solution"}
exec(compile(open("solution.py").read(), "solution.py", "exec"), ns)
fn = ns.get(FN_NAME)
if fn is None and "Solution" in ns:
    fn = getattr(ns["Solution"](), FN_NAME)
out = fn(*args)
sys.stdout.flush()
sys.stdout.write(RESULT_MARK + json.dumps(out, default=repr))
"""
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


def kill_user_processes() -> None:
    """SIGKILL every process of `nobody` (kill(-1) as that user reaches exactly those).

    Repeated, with growing pauses: a fork bomb forks between rounds, and killed processes take a
    moment to leave /proc on a busy machine (up to about 3 s in all)."""
    for attempt in range(20):
        if attempt:
            time.sleep(min(0.02 * attempt, 0.3))
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(GID)
                os.setuid(UID)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        if not user_processes():
            return


def user_processes() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # exited meanwhile
        if fields.get("State", "").strip().startswith("Z"):
            continue  # a zombie holds no resources; init reaps it
        if str(UID) in fields.get("Uid", "").split():
            found.append(int(entry))
    return found


def user_files() -> list[str]:
    found = []
    for top in SCRATCH:
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                path = os.path.join(root, name)
                try:
                    if os.lstat(path).st_uid == UID:
                        found.append(path)
                except OSError:
                    pass
    return found


def clean() -> bool:
    kill_user_processes()
    for path in sorted(user_files(), key=len):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)
    return not user_processes() and not user_files()


def run_process(argv, cwd, stdin_data: bytes, timeout_s, memory_bytes, max_output_bytes, nproc=64):
    """Run one process as nobody; returns (status, stdout, stderr, seconds)."""
    os.makedirs(IO_DIR, mode=0o700, exist_ok=True)
    paths = [os.path.join(IO_DIR, n) for n in ("in", "out", "err")]
    with open(paths[0], "wb") as f:
        f.write(stdin_data)

    def limit() -> None:
        cpu = int(timeout_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_output_bytes, max_output_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    with open(paths[0], "rb") as fin, open(paths[1], "wb") as fout, open(paths[2], "wb") as ferr:
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd, stdin=fin, stdout=fout, stderr=ferr, env={**ENV, "HOME": cwd},
                                user=UID, group=GID, extra_groups=[], start_new_session=True,
                                preexec_fn=limit, close_fds=True)
        try:
            code, timed_out = proc.wait(timeout=timeout_s), False
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_user_processes()
            code = proc.wait()
        seconds = time.monotonic() - start
    kill_user_processes()  # whatever it left running in the background
    with open(paths[1], "rb") as f:
        out = f.read(max_output_bytes)
    with open(paths[2], "rb") as f:
        err = f.read(4096).decode("utf-8", "replace")
    if timed_out or code == -signal.SIGXCPU:
        return "timeout", out, err, seconds
    # Python ignores SIGXFSZ: its writes fail with EFBIG ("File too large") instead.
    if code == -signal.SIGXFSZ or (code != 0 and (len(out) >= max_output_bytes or "[Errno 27]" in err)):
        return "output_limit", out, err, seconds
    if code != 0:
        memory = any(sign in err for sign in MEMORY_SIGNS) or code == -signal.SIGKILL
        return ("memory" if memory else "runtime_error"), out, err, seconds
    return "ok", out, err, seconds


def load_tests(job):
    path = os.path.join(CACHE, job["tests_key"]) if job.get("tests_key") else None
    if job.get("tests") is not None:
        if path:
            os.makedirs(CACHE, mode=0o700, exist_ok=True)
            with open(path, "w") as f:
                json.dump(job["tests"], f)
        return job["tests"]
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def run_job(job) -> dict:
    tests = load_tests(job)
    if tests is None:
        return {"status": "need_tests"}
    work = tempfile.mkdtemp(prefix="prog-", dir="/tmp")
    os.chown(work, UID, GID)
    try:
        return {**run_tests(job, tests, work), "clean": clean()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_tests(job, tests, work) -> dict:
    limits = (job["timeout_s"], job["memory_bytes"], job["max_output_bytes"])
    source = "solution.cpp" if job["lang"] == "cpp" else "solution.py"
    with open(os.path.join(work, source), "w") as f:
        f.write(job["code"])
    if job["lang"] == "cpp":
        if shutil.which("g++") is None:
            return {"status": "error", "detail": "no C++ compiler (g++) in the runner image"}
        status, _, err, _ = run_process(["g++", "-O2", "-std=c++17", "-o", "prog", source], work, b"",
                                        30.0, 2 << 30, 256 << 20, nproc=256)
        if status != "ok":
            return {"status": "compile_error", "detail": err[-2000:]}
        argv = ["./prog"]
    elif job["kind"] == "call":
        with open(os.path.join(work, "driver.py"), "w") as f:
            f.write(CALL_DRIVER.replace("FN_NAME", repr(job["fn_name"])).replace("RESULT_MARK", repr(RESULT_MARK)))
        argv = [PYTHON, "driver.py"]
    else:
        argv = [PYTHON, source]
    for i, test in enumerate(tests):
        if job["kind"] == "call":
            with open(os.path.join(work, "args.json"), "w") as f:
                json.dump(test["args"], f)
        stdin = test.get("input", "").encode() if job["kind"] == "stdio" else b""
        status, out, err, seconds = run_process(argv, work, stdin, *limits)
        failed = {"status": status, "passed": i, "total": len(tests), "failed_test": i,
                  "stderr": err[-1000:], "seconds": round(seconds, 3)}
        if status == "runtime_error" and job["kind"] == "script" and "AssertionError" in err:
            return {**failed, "status": "wrong_answer"}  # a failed assert of the test script
        if status != "ok":
            return failed
        text = out.decode("utf-8", "replace")
        if job["kind"] == "stdio" and not outputs_match(text, test["output"]):
            return {**failed, "status": "wrong_answer", "got": text[:300], "want": test["output"][:300]}
        if job["kind"] == "call":
            if RESULT_MARK not in text:
                return {**failed, "status": "runtime_error"}
            got = json.loads(text.rsplit(RESULT_MARK, 1)[1])
            if not any(values_match(got, want) for want in test["expected"]):
                return {**failed, "status": "wrong_answer", "got": repr(got)[:300],
                        "want": repr(test["expected"][0])[:300]}
    return {"status": "passed", "passed": len(tests), "total": len(tests)}


def answer(request) -> dict:
    results = []
    for job in request["jobs"]:
        try:
            results.append(run_job(job))
        except Exception as exc:  # a runner bug must come back as an answer, not a dead exec
            results.append({"status": "error", "detail": f"{type(exc).__name__}: {exc}"})
    return {"results": results}


def main() -> None:
    if "--serve" in sys.argv:  # one request per line, one answer per line, until stdin closes
        for line in sys.stdin:
            if line.strip():
                sys.stdout.write(json.dumps(answer(json.loads(line))) + "\n")
                sys.stdout.flush()
    else:
        sys.stdout.write(json.dumps(answer(json.load(sys.stdin))))


if __name__ == "__main__":
    main()
