"""harness.sandbox on the real Docker engine: limits, timeouts, bounded output, cleanup."""
import os
import time

import docker
import pytest

from harness.images import ensure_base_images
from harness.sandbox import Limits, Sandbox, cleanup_all

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def image():
    return ensure_base_images()


@pytest.fixture(scope="module")
def sb(image):
    with Sandbox(image, limits=Limits(memory="256m", cpus=1, pids=64, timeout_s=30)) as box:
        yield box


def our_containers():
    return docker.from_env().api.containers(all=True, filters={"label": f"monkeys-swe.owner-pid={os.getpid()}"})


def test_exec_basics(sb):
    r = sb.exec("echo out; echo err >&2; pwd; echo $GREETING; exit 3", env={"GREETING": "hi"}, timeout=60)
    assert r.exit_code == 3 and not r.timed_out and not r.truncated
    assert r.output.split() == ["out", "err", "/testbed", "hi"]
    assert sb.exec("cat", stdin=b"from stdin", timeout=60).output == "from stdin"
    assert sb.exec("pwd", workdir="/tmp", timeout=60).output.strip() == "/tmp"


def test_files_roundtrip(sb):
    sb.put_file("/tmp/x/data.bin", bytes(range(256)), mode=0o755)
    assert sb.get_file("/tmp/x/data.bin") == bytes(range(256))
    assert sb.exec("stat -c %a /tmp/x/data.bin", timeout=60).output.strip() == "755"


def test_timeout_kills_process_tree(sb):
    start = time.monotonic()
    r = sb.exec("sleep 300 & sleep 300; echo never", timeout=2)
    assert r.timed_out and "never" not in r.output and time.monotonic() - start < 8
    # a process that left the process group (setsid) is killed by the host-side watchdog
    start = time.monotonic()
    r = sb.exec("setsid bash -c 'while :; do echo x; sleep 0.2; done' & sleep 300", timeout=2)
    assert r.timed_out and time.monotonic() - start < 10
    assert sb.exec("echo still usable", timeout=60).output.strip() == "still usable"


def test_endless_output_is_cut(sb):
    start = time.monotonic()
    r = sb.exec("yes", timeout=20, max_output_bytes=10_000)
    assert r.truncated and len(r.output) == 10_000 and time.monotonic() - start < 10


def test_no_network(sb):
    r = sb.exec("python3 -c \"import socket; socket.create_connection(('1.1.1.1', 80), timeout=3)\"",
                timeout=20)
    assert r.exit_code != 0 and ("unreachable" in r.output or "OSError" in r.output)


def test_fork_bomb_and_memory_hog_are_contained(image):
    with Sandbox(image, limits=Limits(memory="256m", cpus=1, pids=64, timeout_s=60)) as box:
        r = box.exec(":(){ :|:& };:", timeout=4)
        assert r.timed_out
        r = box.exec("python3 -c \"x = 'x' * (1 << 30); print('survived')\"", timeout=60)
        assert r.exit_code == 137 and "survived" not in r.output  # the OOM killer, not us
        assert box.exec("echo ok", timeout=60).output.strip() == "ok"


def test_diff_is_binary_safe_and_sees_untracked(image):
    with Sandbox(image, limits=Limits(timeout_s=30)) as box:
        setup = ("git init -q . && echo a > a.txt && git add . && git commit -qm base && "
                 "echo b >> a.txt && printf '\\000\\001\\002' > blob.bin")
        assert box.exec(setup, timeout=20).exit_code == 0
        diff = box.diff("HEAD")
        assert "+b" in diff and "GIT binary patch" in diff and "blob.bin" in diff
        assert box.exec("git status --porcelain", timeout=60).output.count("??") == 1  # index untouched
        box.exec("git stash -u -q", timeout=60)
        box.put_file("/tmp/d.diff", diff.encode())
        assert box.exec("git apply /tmp/d.diff && od -An -tx1 blob.bin", timeout=60).output.split() == ["00", "01", "02"]


def test_containers_are_removed(image):
    with Sandbox(image) as box:
        cid = box.container.id
    assert cid not in [c["Id"] for c in our_containers()]
    Sandbox(image).start()  # deliberately never closed
    assert len(our_containers()) >= 1
    cleanup_all()  # also takes the module's `sb` (this is the module's last test)
    assert our_containers() == []


def test_blackhole_addresses_never_answer_and_the_sandbox_cannot_reroute(image):
    """requests' connect-timeout tests need a host that never answers (harness.netns); every
    other address stays unreachable, and code in the sandbox cannot add routes of its own."""
    from harness.netns import _ROUTE_TO_LO

    probe = ("import socket, sys, time\n"
             "for a in sys.argv[1:]:\n"
             "    t = time.monotonic()\n"
             "    try: socket.create_connection((a, 80), 1.5); print(a, 'connected')\n"
             "    except Exception as e: print(a, type(e).__name__, round(time.monotonic() - t, 1))\n")
    with Sandbox(image, limits=Limits(timeout_s=30), blackhole=("10.255.255.1/32",)) as box:
        r = box.exec('python3 -c "$1" 10.255.255.1 10.255.255.2 1.1.1.1', args=[probe], timeout=20)
        lines = dict(line.split(" ", 1) for line in r.output.strip().splitlines())
        assert lines["10.255.255.1"].startswith("TimeoutError") or lines["10.255.255.1"].startswith("timeout")
        assert lines["10.255.255.2"].startswith("OSError") and lines["1.1.1.1"].startswith("OSError")
        r = box.exec('python3 -c "$1" 1.1.1.0/24', args=[_ROUTE_TO_LO], timeout=20)
        assert r.exit_code != 0 and "Operation not permitted" in r.output
    with Sandbox(image, limits=Limits(timeout_s=30)) as plain:  # no blackhole: unreachable at once
        r = plain.exec('python3 -c "$1" 10.255.255.1', args=[probe], timeout=20)
        assert r.output.split()[1] == "OSError"
