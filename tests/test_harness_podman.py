"""The harness on Podman, through its Docker-compatible service (`.ci/bootstrap --test` starts it
on /run/podman/podman.sock, rootful): limits enforced, no network, the fixture instance verified
end to end; and a rootless Podman that cannot enforce a limit gives the one-line refusal."""
import os
import signal
import subprocess
import tempfile
import time

import docker
import pytest

from harness import docker_util, engine
from harness.base_images import ensure_base_images
from harness.docker_util import LABEL
from harness.sandbox import Limits, Sandbox
from harness.verify import Verifier
from harness_fixture import make_fixture_instance

pytestmark = pytest.mark.docker
SOCKET = "unix:///run/podman/podman.sock"
LIMITS = Limits(memory="256m", cpus=0.5, pids=64, timeout_s=60)


@pytest.fixture(scope="module")
def podman():
    """This process talks to Podman for the module (as `--engine podman` makes it), then to Docker again."""
    saved = {k: os.environ.get(k) for k in ("DOCKER_HOST", "CONTAINER_HOST", engine.ENV)}
    os.environ.pop("DOCKER_HOST", None)
    os.environ["CONTAINER_HOST"] = SOCKET
    try:
        engine.select("podman")
        client = docker_util.get_client()
        yield client
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        engine.reset_client()


def test_podman_sandbox_limits_network_and_cleanup(podman):
    info = engine.describe(podman)
    assert info.kind == "podman" and not info.rootless, info
    image = ensure_base_images(podman)  # the offline base, imported into Podman
    with Sandbox(image, limits=LIMITS, client=podman) as sb:
        cid = sb.container.id
        # the cgroup the container sees says what the kernel enforces (v1 or v2 file names)
        r = sb.exec("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; "
                    "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
                    "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max; "
                    "ls /sys/class/net", timeout=30)
        memory, pids, quota, *nets = r.output.split()
        assert int(memory) == 256 << 20 and int(pids) == 64 and int(quota) == 50000, r.output
        assert nets == ["lo"], r.output  # --network none: loopback only
        bomb = sb.exec("for i in $(seq 100); do sleep 5 & done; wait", timeout=20)
        assert "fork" in bomb.output.lower() or "resource" in bomb.output.lower(), bomb.output  # pids limit bites
        labels = podman.api.inspect_container(cid)["Config"]["Labels"]
        assert labels[LABEL] == "1" and labels[f"{LABEL}.owner-pid"] == str(os.getpid())
    with pytest.raises(docker.errors.NotFound):
        podman.api.inspect_container(cid)  # removed on close


def test_fixture_instance_verified_on_podman(podman, tmp_path):
    inst, mirror = make_fixture_instance(tmp_path)
    with Verifier(inst, repo_mirror=mirror, pool_size=2, limits=Limits(memory="512m", cpus=1, pids=128,
                                                                      timeout_s=90)) as v:
        assert engine.address(v.client) == SOCKET
        gold = v.verify(inst.patch)
        assert gold.status == "resolved", gold
        empty = v.verify("")
        assert empty.status == "not_resolved" and empty.fail_to_pass["failure"], empty
    assert podman.images.get(v.image).labels[f"{LABEL}.kind"] == "instance"  # built by Podman
    time.sleep(1)  # the pool removes used sandboxes in the background; close waited for them
    mine = podman.api.containers(all=True, filters={"label": f"{LABEL}.owner-pid={os.getpid()}"})
    assert mine == [], mine


@pytest.fixture()
def rootless_podman():
    """A rootless Podman service (as `nobody`, single uid mapping), on a socket under /tmp."""
    work = tempfile.mkdtemp(prefix="monkeys-rootless-")
    for sub in ("run", "home"):
        os.makedirs(os.path.join(work, sub))
    subprocess.run(["chown", "-R", "nobody", work], check=True)
    sock = os.path.join(work, "podman.sock")
    proc = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"], user="nobody",
                            group="nogroup", extra_groups=[], env={"PATH": os.environ["PATH"], "HOME": f"{work}/home",
                                                                   "XDG_RUNTIME_DIR": f"{work}/run"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    client = docker.DockerClient(base_url=f"unix://{sock}", version="1.41", timeout=60)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                client.ping()
                break
            except Exception:  # not listening yet
                time.sleep(0.2)
        yield client
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # rootless Podman re-executes itself in a user namespace
        proc.wait(timeout=30)
        subprocess.run(["rm", "-rf", work], check=False)


def test_rootless_podman_limit_it_cannot_enforce_is_refused(rootless_podman):
    info = engine.describe(rootless_podman)
    assert info.kind == "podman" and info.rootless
    missing = engine.unenforced(info, memory="256m", cpus=0.5, pids=64)
    if open("/proc/self/mountinfo").read().count(" - cgroup ") > 0:  # cgroup v1 (or hybrid): no rootless limits
        assert [m.split(" limit")[0].split()[-1] for m in missing] == ["memory", "cpus", "pids"], missing
    if missing:
        with pytest.raises(engine.EngineError) as exc:
            Sandbox("monkeys-swe/none:never-pulled", limits=LIMITS, client=rootless_podman).start()
        message = str(exc.value)
        assert "\n" not in message and "memory limit (256m)" in message and "rootless" in message, message
    # with no limits asked, nothing is refused (the engine can still be used for unlimited work)
    assert engine.unenforced(info, memory=None, cpus=0, pids=0) == []


def test_program_runner_on_podman(podman):
    """Untrusted programs judged in Podman runner containers (tmpfs scratch, nobody, limits)."""
    from monkeys_swe.verifiers.programs import ProgramJob, ProgramPool

    tests = [{"input": "2 3\n", "output": "5\n"}, {"input": "10 -4\n", "output": "6\n"}]
    jobs = [ProgramJob("a, b = map(int, input().split())\nprint(a + b)\n", tests),
            ProgramJob("a, b = map(int, input().split())\nprint(a - b)\n", tests),
            ProgramJob("import os\nwhile True:\n    os.fork()\n", tests, timeout_s=3)]
    with ProgramPool(size=1) as pool:
        results = pool.run_many(jobs)
        assert engine.address(pool._all[0].client) == SOCKET
    assert [r.status for r in results][:2] == ["passed", "wrong_answer"], results
    assert results[2].status in ("timeout", "runtime_error", "killed"), results[2]


def test_remote_engine_over_tcp_gets_the_snapshot_as_a_build_context(podman, tmp_path):
    """An engine reached over TCP (a second Podman service on 127.0.0.1:PORT, as a remote host's
    would be): no shared filesystem, the repository snapshot travels in the build context."""
    import socket

    from harness import repos
    from harness.docker_util import build_image

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = "/run/monkeys-swe/podman-containers.conf"  # the host fitting .ci/podman-service wrote
    env = {k: v for k, v in os.environ.items() if k != "CONTAINER_HOST"}  # set: podman would be a client
    env.update({"CONTAINERS_CONF": conf} if os.path.exists(conf) else {})
    proc = subprocess.Popen(["podman", "system", "service", "--time=0", f"tcp:127.0.0.1:{port}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    saved = os.environ.get("DOCKER_HOST")
    tag = f"monkeys-swe/remote-test:{os.getpid()}"
    try:
        os.environ["DOCKER_HOST"] = f"tcp://127.0.0.1:{port}"
        engine.reset_client()
        deadline = time.time() + 60
        while True:
            try:
                client = docker_util.get_client()
                break
            except RuntimeError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        info = engine.describe(client)
        assert info.remote and info.kind == "podman"
        inst, mirror = make_fixture_instance(tmp_path)
        snapshot = repos.archive(repos.locate(inst.repo, mirror), inst.base_commit)
        build_image(client, tag, f"FROM {ensure_base_images(client)}\nCOPY repo/ /testbed/\n", {},
                    extra_tar=snapshot, labels={LABEL: "1", f"{LABEL}.kind": "test"})
        with Sandbox(tag, limits=LIMITS, client=client) as sb:
            r = sb.exec("grep -c 'def mean' calc/ops.py", timeout=30)
        assert r.exit_code == 0 and r.output.strip() == "1", r.output
        client.images.remove(tag)
    finally:
        os.environ.pop("DOCKER_HOST") if saved is None else os.environ.__setitem__("DOCKER_HOST", saved)
        engine.reset_client()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_cli_engine_option_lists_podman_images(podman, capsys):
    from monkeys_swe.cli import cli
    from monkeys_swe.errors import UserError

    count = lambda: len(podman.images.list(filters={"label": LABEL}))  # noqa: E731
    before = count()
    cli.main(["images", "list", "--engine", "podman"], standalone_mode=False)
    after = count()  # another process may build on the same engine meanwhile
    listed = int(capsys.readouterr().out.split(" images; all image layers")[0].split()[-1])
    assert min(before, after) <= listed <= max(before, after) and listed > 0
    assert engine.address(docker_util.get_client()) == SOCKET
    saved = os.environ.pop("CONTAINER_HOST"), os.environ.pop("DOCKER_HOST")
    try:  # no service named and none at a default socket here: one line saying how to start one
        if not any(os.path.exists(p.format(runtime=os.environ.get("XDG_RUNTIME_DIR", "/nonexistent")))
                   for p in engine.PODMAN_SOCKETS[1:]):
            real = engine.PODMAN_SOCKETS
            engine.PODMAN_SOCKETS = ("/nonexistent/podman.sock",)
            try:
                with pytest.raises(UserError, match="no Podman service found: start one with"):
                    cli.main(["images", "list", "--engine", "podman"], standalone_mode=False)
            finally:
                engine.PODMAN_SOCKETS = real
    finally:
        os.environ["CONTAINER_HOST"], os.environ["DOCKER_HOST"] = saved
        engine.reset_client()
