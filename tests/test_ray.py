"""The Ray executor on a real two-node cluster on this machine (ray.cluster_utils.Cluster starts
real raylets; each node declares its own `docker` resource), the real harness in Docker, the
fixture SWE-bench instance with replayed candidates.

- a run on the cluster gives the same verdicts as the local executor, with an actor per
  (node, instance);
- a worker node killed in the middle of verification: the run completes, one verdict each;
- the driver SIGKILLed mid-run and the same command rerun: nothing lost or duplicated;
- `verify --ray`, `sweep --ray` and the llama.cpp sampler as Ray actors;
- afterwards, no Ray process and no container of ours is left.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray  # installed by .ci/bootstrap --test (pip install 'monkeys-swe[ray]')
from harness_fixture import BUGGY, FIXED, INSTANCE_ID, make_fixture_instance
from monkeys_swe.config import RunConfig
from monkeys_swe.executors import LocalExecutor, make_executor
from monkeys_swe.runner import Runner
from monkeys_swe.store import Store
from monkeys_swe.tasks.swebench import SWEBenchTask

pytestmark = pytest.mark.docker


def sr(search: str, replace: str, prose: str = "") -> str:
    return f"{prose}calc/ops.py\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


CORRECT = sr(BUGGY, FIXED, "The mean divides by the wrong count.\n\n")
WRONG = sr(BUGGY, "    return sum(values) / (len(values) - 1)\n")
MALFORMED = sr("    return total / count\n", "    return 0\n")
DUPLICATE = f"Try this:\n### calc/ops.py\n```python\n<<<<<<< SEARCH\n{BUGGY.strip()}\n=======\n{FIXED.strip()}\n>>>>>>> REPLACE\n```\n"


def variant(i: int) -> tuple[str, str]:
    """A distinct patch (its own verification): even i fix the bug, odd i do not."""
    if i % 2 == 0:
        return sr(BUGGY, f"    return sum(values) / len(values) + 0 * {i}\n"), "resolved"
    return sr(BUGGY, f"    return sum(values) / (len(values) + {i + 1})\n"), "not_resolved"


@pytest.fixture(scope="module")
def fixture_instance(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray-fixture")
    inst, mirror = make_fixture_instance(root)
    data = root / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")
    return inst, mirror, data


RAY_PROCESSES = ("raylet", "gcs_server", "ray::", "default_worker.py", "ray/dashboard", "log_monitor.py")


def _ray_processes(exclude: set[int] = frozenset()) -> dict[int, str]:
    """Live Ray processes on this machine (pid -> command line), from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(k in cmd for k in RAY_PROCESSES):
            found[int(entry.name)] = cmd[:120]
    return found


def _our_containers(since_pids: set[int], since: float) -> list[str]:
    """Labelled containers owned by a process that is gone, by one of our Ray workers, or by
    this test process for the fixture instance since the cluster started."""
    import docker

    from harness.docker_util import LABEL

    client = docker.from_env()
    left = []
    session = os.environ["MONKEYS_SWE_SESSION"]  # conftest: this test session's containers only
    for c in client.api.containers(all=True, filters={"label": f"{LABEL}.session={session}"}):
        pid = int(c["Labels"][f"{LABEL}.owner-pid"])
        mine = pid == os.getpid() and c["Labels"].get(f"{LABEL}.instance") == INSTANCE_ID and c["Created"] >= since
        if mine or pid in since_pids or not Path(f"/proc/{pid}").exists():
            left.append(c["Names"][0])
    return left


@pytest.fixture(scope="module")
def cluster():
    """Two real Ray nodes, each with one Docker slot and one CPU; torn down to the last process."""
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no prompt, no network on a CI machine
    before, started = set(_ray_processes()), time.time()  # Ray processes that were not ours
    # A dead node is noticed within about a second (Ray's default is tens of seconds).
    fast_failure = {"health_check_period_ms": 500, "health_check_timeout_ms": 500,
                    "health_check_failure_threshold": 2}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"docker": 1},
                                                      "include_dashboard": False, "_system_config": fast_failure})
    c.add_node(num_cpus=1, resources={"docker": 1})
    c.wait_for_nodes()
    worker_pids: set[int] = set()
    c.worker_pids = worker_pids  # tests add the pids of Ray workers that owned containers
    yield c
    if ray.is_initialized():
        ray.shutdown()
    c.shutdown()
    from harness import lifecycle
    from harness.docker_util import LABEL, get_client

    t0 = deadline = time.time()
    deadline += 60
    while time.time() < deadline and (_ray_processes(before) or _our_containers(worker_pids, started)):
        lifecycle.reap_orphans(get_client(), LABEL, once=False)  # containers of SIGKILLed workers
        time.sleep(1)
    print(f"cluster teardown: clean after {time.time() - t0:.1f} s")
    assert not _ray_processes(before), f"Ray processes left: {_ray_processes(before)}"
    assert not _our_containers(worker_pids, started), f"containers left: {_our_containers(worker_pids, started)}"


def task(mirror: Path, **settings) -> SWEBenchTask:
    """The fixture's task without the existing-tests check: one sandbox per candidate, not two."""
    return SWEBenchTask(repo_mirror=str(mirror), regression=False, pool_size=1, **settings)


def _config(tmp_path: Path, data: Path, samples: list[str], runs: str) -> RunConfig:
    replay = tmp_path / f"{runs}-samples.json"
    replay.write_text(json.dumps([{"id": INSTANCE_ID, "question": "", "samples": samples}]))
    return RunConfig(task="swebench", data=str(data), samples=len(samples), backend="replay",
                     replay_from=str(replay), runs_dir=str(tmp_path / runs))


def _verdicts(run_dir: Path) -> dict[int, tuple]:
    store = Store(run_dir, create=False)
    try:
        return {i: (v.status, v.answer, v.correct) for _, i, v in store.verdicts()}
    finally:
        store.close()


def _rows(run_dir: Path, table: str) -> list[tuple]:
    db = sqlite3.connect(run_dir / "run.db")
    try:
        return db.execute(f"SELECT problem_id, idx FROM {table}").fetchall()
    finally:
        db.close()


def test_ray_run_matches_local_with_an_actor_per_node_and_instance(cluster, fixture_instance, tmp_path):
    from monkeys_swe.executors.ray_verify import NAMESPACE, actor_name

    inst, mirror, data = fixture_instance
    samples = [CORRECT, WRONG, MALFORMED, DUPLICATE]
    local_dir = Runner(_config(tmp_path, data, samples, "local"), task=task(mirror),
                       executor=LocalExecutor()).run()
    executor = make_executor(cluster.address)
    cache = tmp_path / "verdicts.db"
    try:
        runner = Runner(_config(tmp_path, data, samples, "ray"), task=task(mirror, verdict_cache=str(cache)),
                        executor=executor)
        ray_dir = runner.run()
        assert "2 nodes" in executor.describe() and "docker" in executor.describe()
        [name] = executor.actors  # one instance -> one kind of actor, made on each node that verified
        nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
        on = [n for n in nodes if _exists(actor_name(name, n), NAMESPACE)]
        assert len(on) == 2
        cluster.worker_pids.update(_actor_pids(name, on))
        # one task per distinct diff: the malformed completion is decided on the driver, the
        # duplicate deduplicated; both nodes verified (each has one docker slot)
        assert len(executor.timings) == 2 and len({t["node"] for t in executor.timings}) == 2
        assert runner.task.docker_verifications == 2 and runner.task.cache_hits == 0
        # the same candidates again: the nodes' verdict cache answers, no Docker run
        again = Runner(_config(tmp_path, data, samples, "ray-again"), task=task(mirror, verdict_cache=str(cache)),
                       executor=executor)
        assert _verdicts(again.run()) == _verdicts(ray_dir)
        assert again.task.cache_hits == 2 and again.task.docker_verifications == 0
    finally:
        executor.close()
    local, remote = _verdicts(local_dir), _verdicts(ray_dir)
    assert remote == local and len(remote) == len(samples)
    assert [remote[i][0] for i in range(4)] == ["resolved", "not_resolved", "malformed", "resolved"]
    assert remote[0][1] == remote[3][1]  # the duplicate shares the fix's patch hash
    assert runner.stats.verified == len(samples) and runner.stats.errors == 0


def _exists(name: str, namespace: str) -> bool:
    try:
        ray.get_actor(name, namespace=namespace)
        return True
    except ValueError:
        return False


def _calls(names: set[str], node: str) -> int:
    """Verifications started by the node's actors for `names` (0 where there is none yet)."""
    from monkeys_swe.executors.ray_verify import NAMESPACE, actor_name

    total = 0
    for name in set(names):
        try:
            actor = ray.get_actor(actor_name(name, node), namespace=NAMESPACE)
            total += ray.get(actor.__ray_call__.remote(lambda self: self.calls), timeout=30)
        except Exception:  # not there yet, or still setting up
            pass
    return total


def _actor_pids(name: str, nodes: list[str]) -> set[int]:
    from monkeys_swe.executors.ray_verify import NAMESPACE, actor_name

    pids = set()
    for n in nodes:
        try:
            actor = ray.get_actor(actor_name(name, n), namespace=NAMESPACE)
            pids.add(ray.get(actor.__ray_call__.remote(lambda self: os.getpid()), timeout=30))
        except Exception:
            pass
    return pids


def test_worker_node_killed_mid_verification_every_attempt_judged_once(cluster, fixture_instance, tmp_path):
    inst, mirror, data = fixture_instance
    doomed = cluster.add_node(num_cpus=0, resources={"docker": 1})
    cluster.wait_for_nodes()
    pairs = [variant(i) for i in range(2, 6)]
    executor = make_executor(cluster.address)
    runner = Runner(_config(tmp_path, data, [p for p, _ in pairs], "killed"), task=task(mirror),
                    executor=executor)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("dir", runner.run()), daemon=True)
    try:
        thread.start()
        doomed_id = doomed.node_id
        deadline = time.time() + 120
        # the doomed node has taken work: its actor for the instance has started a verification
        while time.time() < deadline and not _calls(executor.actors, doomed_id):
            time.sleep(0.2)
        assert time.time() < deadline, "the third node never got a verification"
        cluster.worker_pids.update(_actor_pids(next(iter(executor.actors)), [doomed_id]))
        judged_before = runner.stats.verified
        cluster.remove_node(doomed, allow_graceful=False)  # its raylet dies with tasks in flight
        thread.join(timeout=240)
        assert not thread.is_alive(), "the run did not finish after the node died"
    finally:
        executor.close()
    assert judged_before < len(pairs), "the node died after everything was judged: nothing was in flight"
    verdicts = _verdicts(result["dir"])
    assert sorted(_rows(result["dir"], "verdicts")) == sorted(_rows(result["dir"], "attempts"))  # one each
    assert {i: v[0] for i, v in verdicts.items()} == {i: status for i, (_, status) in enumerate(pairs)}
    assert runner.stats.errors == 0


def test_driver_sigkilled_mid_run_resumes_nothing_lost_or_duplicated(cluster, fixture_instance, tmp_path):
    inst, mirror, data = fixture_instance
    pairs = [variant(i) for i in range(12, 16)]
    replay = tmp_path / "samples.json"
    replay.write_text(json.dumps([{"id": INSTANCE_ID, "question": "", "samples": [p for p, _ in pairs]}]))
    args = ["bench", "swebench", "--data", str(data), "--backend", "replay", "--replay-from", str(replay),
            "--samples", str(len(pairs)), "--runs-dir", str(tmp_path / "runs"), "--repo-mirror", str(mirror),
            "--no-report", "--task-arg", "regression=false", "--task-arg", "pool_size=1", "--ray", cluster.address]
    proc = subprocess.Popen([sys.executable, "-m", "monkeys_swe", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline, db = time.time() + 150, None
    try:
        while time.time() < deadline and proc.poll() is None:
            dbs = list((tmp_path / "runs").glob("*/run.db"))
            if dbs and _count(dbs[0], "verdicts") >= 1:
                db = dbs[0]
                break
            time.sleep(0.2)
        assert db is not None, f"no verdict was stored before the deadline:\n{proc.stdout.read() if proc.poll() is not None else ''}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    killed_at = _count(db, "verdicts")
    assert _count(db, "attempts") == len(pairs) and killed_at < len(pairs), "the kill came after the run ended"
    again = invoke(*args)  # the same command again (in this process: no second interpreter start)
    assert f"done {len(pairs)} attempts (0 new)" in again and "cluster: 2 nodes" in again
    run_dir = db.parent
    assert sorted(_rows(run_dir, "verdicts")) == sorted(_rows(run_dir, "attempts"))
    assert {i: v[0] for i, v in _verdicts(run_dir).items()} == {i: s for i, (_, s) in enumerate(pairs)}


def invoke(*args: str) -> str:
    """Run a monkeys-swe command in this process, as the CLI would; its output (it must succeed)."""
    from click.testing import CliRunner

    from monkeys_swe.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _count(db: Path, table: str) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # the table is not there yet
        return 0


def test_verify_command_on_ray_dedupes_and_reports_like_local(cluster, fixture_instance, tmp_path):
    inst, mirror, data = fixture_instance
    wrong = variant(19)[0]
    from monkeys_swe.tasks.swebench.edits import completion_to_patch
    from monkeys_swe.tasks.swebench.retrieval import RepoSnapshot
    from harness import repos

    snapshot = RepoSnapshot(repos.locate(inst.repo, str(mirror), clone=False), inst.base_commit)
    wrong_patch = completion_to_patch(wrong, snapshot.read)[0]
    # the gold code plus a test-file edit (dropped before applying): the same meaning as gold
    with_test = inst.patch + ("diff --git a/tests/test_extra.py b/tests/test_extra.py\nnew file mode 100644\n"
                              "--- /dev/null\n+++ b/tests/test_extra.py\n@@ -0,0 +1 @@\n+def test_x(): pass\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"instance_id": INSTANCE_ID, "model_name_or_path": m, "model_patch": p}) + "\n"
                             for m, p in [("gold", inst.patch), ("wrong", wrong_patch), ("gold-again", inst.patch),
                                          ("gold-with-test", with_test)]))
    report = tmp_path / "report.json"
    invoke("verify", str(preds), "--data", str(data), "--repo-mirror", str(mirror), "--report", str(report),
           "--pool-size", "1", "--no-cache", "--ray", cluster.address)
    entry = json.loads(report.read_text())["instances"][INSTANCE_ID]
    assert [a["status"] for a in entry["attempts"]] == ["resolved", "not_resolved", "resolved", "resolved"]
    assert entry["attempts"][2]["duplicate_of"] == 0 and entry["unique_patches"] == 3
    # deduplicated by meaning before dispatch: one Docker run for gold, its own hash and dropped file
    gold, _, _, same = entry["attempts"]
    assert same["duplicate_of"] == 0 and same["dropped_files"] == ["tests/test_extra.py"]
    assert same["patch_hash"] != gold["patch_hash"] and entry["unique_semantic"] == 2
    assert entry["statuses"] == {"resolved": 3, "not_resolved": 1}
    streamed = [json.loads(line) for line in report.with_suffix(".jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in streamed) == [0, 1, 2, 3]


def test_sweep_cells_run_concurrently_on_the_cluster(cluster, fixture_instance, tmp_path):
    inst, mirror, data = fixture_instance
    replay = tmp_path / "samples.json"
    replay.write_text(json.dumps([{"id": INSTANCE_ID, "question": "", "samples": [CORRECT, WRONG]}]))
    config = tmp_path / "sweep.yaml"
    config.write_text(json.dumps({"name": "raysweep", "html": False,
                                  "base": {"data": str(data), "backend": "replay", "replay_from": str(replay),
                                           "task_args": {"repo_mirror": str(mirror), "regression": False, "pool_size": 1}},
                                  "grid": {"task": ["swebench"], "samples": [2], "temperature": [0.2, 0.8]}}))
    out = invoke("sweep", str(config), "--out", str(tmp_path / "sw"), "--ray", cluster.address)
    assert out.count(": done") == 2, out
    for run_db in (tmp_path / "sw" / "runs").glob("*/run.db"):
        assert {i: v[0] for i, v in _verdicts(run_db.parent).items()} == {0: "resolved", 1: "not_resolved"}


@pytest.mark.model
def test_llamacpp_sampler_as_ray_actors_matches_local(cluster, fixture_instance, tmp_path):
    inst, mirror, data = fixture_instance

    def config(runs: str) -> RunConfig:
        return RunConfig(task="swebench", data=str(data), samples=2, backend="llamacpp", max_tokens=24,
                         runs_dir=str(tmp_path / runs))

    local_dir = Runner(config("local"), task=task(mirror)).run()
    executor = make_executor(cluster.address, replicas=2)
    try:
        ray_dir = Runner(config("ray"), task=task(mirror), executor=executor).run()
    finally:
        executor.close()
    texts = lambda d: [(s.index, s.text, s.seed) for s in Store(d, create=False).samples()]  # noqa: E731
    assert texts(ray_dir) == texts(local_dir) and len(texts(ray_dir)) == 2  # same seeds, same text
    assert _verdicts(ray_dir) == _verdicts(local_dir)


def test_a_math_check_past_its_limit_on_an_actor_thread_is_an_error_verdict(cluster, tmp_path):
    """A Ray actor verifies in its threads, where math-verify's SIGALRM timeouts never worked: the
    check runs in a killable worker process, so the pathological answer is `error`, not a hang."""
    from monkeys_swe.tasks.math import MathTask

    data = tmp_path / "math.jsonl"
    data.write_text(json.dumps({"unique_id": "m1", "problem": "What is 1 + 1?", "answer": "2"}) + "\n")
    replay = tmp_path / "samples.json"
    replay.write_text(json.dumps([{"id": "m1", "question": "", "samples": ["\\boxed{9^{9^{9^{9}}}}", "\\boxed{2}"]}]))
    config = RunConfig(task="math", data=str(data), samples=2, backend="replay", replay_from=str(replay),
                       runs_dir=str(tmp_path / "runs"))
    executor = make_executor(cluster.address, replicas=1)
    try:
        run_dir = Runner(config, task=MathTask(equivalence_timeout_s=2), executor=executor).run()
    finally:
        executor.close()
    verdicts = {i: v[0] for i, v in _verdicts(run_dir).items()}
    assert verdicts == {0: "error", 1: "correct"}, verdicts
