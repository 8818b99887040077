"""Programs judged on hidden tests: output comparison, the three data schemas, and real runs in
runner containers (limits, isolation, cleanup), HumanEval end to end and through the run loop."""
from __future__ import annotations

import gzip
import json

import pytest

from monkeys_swe.config import RunConfig
from monkeys_swe.runner import Runner
from monkeys_swe.store import Store
from monkeys_swe.tasks.codecontests import CodeContestsTask, HumanEvalTask, extract_code, problem_from_record
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
