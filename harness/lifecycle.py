"""The registry of live containers, and the guarantee that they are removed.

Removal happens on normal close, at interpreter exit (atexit), and on SIGINT/SIGTERM.
The signal handler removes containers *first*: that ends the `docker exec` streams the
worker threads are blocked on, so the process can actually exit instead of waiting for
every running test suite. After a signal no new sandbox may start.
"""
from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
from pathlib import Path

from docker.errors import APIError, NotFound

log = logging.getLogger(__name__)

# RLock: the signal handler runs on the main thread, possibly while it holds the lock.
_lock = threading.RLock()
_live: dict[str, object] = {}
_shutting_down = threading.Event()
_handlers_installed = False
_reaped = False
HOST = socket.gethostname()


def owner_labels(label: str) -> dict[str, str]:
    """Labels that tie a container to this process, so orphans can be recognised later."""
    labels = {f"{label}.owner-pid": str(os.getpid()), f"{label}.owner-host": HOST}
    if os.environ.get("MONKEYS_SWE_SESSION"):  # a test session (and its CLI subprocesses) finds its own
        labels[f"{label}.session"] = os.environ["MONKEYS_SWE_SESSION"]
    return labels


def _owner_alive(labels: dict, label: str) -> bool:
    pid = labels.get(f"{label}.owner-pid")
    if pid is None or labels.get(f"{label}.owner-host", HOST) != HOST:
        return True  # a build step, or another machine's process: not ours to judge
    try:
        os.kill(int(pid), 0)
        return True
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True


def reap_orphans(client, label: str, *, once: bool = True) -> int:
    """Remove containers whose owning process on this host is gone (it was SIGKILLed, or
    the machine lost power). Runs once per process unless `once=False`."""
    global _reaped
    if once and _reaped:
        return 0
    _reaped = True
    orphans = [c["Id"] for c in client.api.containers(all=True, filters={"label": label})
               if not _owner_alive(c.get("Labels") or {}, label)]
    orphans += _orphan_build_steps()
    for cid in orphans:
        try:
            client.api.remove_container(cid, force=True)
        except (APIError, NotFound):
            pass
    return len(orphans)


# Build step containers carry no label of ours (the classic builder gives them the parent image's), so
# a build notes each running step here, one file per building thread: after a kill -9 the next process on this
# host removes the steps of dead owners (reap_orphans).
STEPS_DIR = Path(os.environ.get("MONKEYS_SWE_STATE", Path.home() / ".cache" / "monkeys-swe")) / "build-steps"


def note_build_step(container_id: str | None) -> None:
    """Record (or, with None, clear) the build step this process is running."""
    path = STEPS_DIR / f"{os.getpid()}.{threading.get_ident()}@{HOST}"  # builds may run in several threads
    try:
        if container_id is None:
            path.unlink(missing_ok=True)
        else:
            STEPS_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(container_id)
    except OSError:
        pass  # best effort: only a kill -9 needs it


def _orphan_build_steps() -> list[str]:
    out = []
    for path in STEPS_DIR.glob(f"*@{HOST}") if STEPS_DIR.is_dir() else []:
        pid = path.name.split(".", 1)[0]
        if not _owner_alive({"o.owner-pid": pid}, "o"):
            try:
                out.append(path.read_text().strip())
                path.unlink()
            except OSError:
                pass
    return [cid for cid in out if cid]


def register(container) -> None:
    with _lock:
        _live[container.id] = container


def forget(container) -> None:
    """Stop tracking a container someone else removes (a build step the daemon cleans up)."""
    with _lock:
        _live.pop(container.id, None)


def remove(container) -> None:
    """Force-remove (SIGKILL + delete) one container; missing is fine."""
    try:
        container.remove(force=True)
    except NotFound:
        pass
    except APIError as exc:
        if exc.status_code != 409:  # 409: removal already in progress
            log.warning("could not remove container %s: %s", container.short_id, exc)
    with _lock:
        _live.pop(container.id, None)


def live_count() -> int:
    return len(_live)


def cleanup_all() -> int:
    """Remove every container this process started and has not removed yet."""
    with _lock:
        containers = list(_live.values())
    for c in containers:
        remove(c)
    return len(containers)


def shutting_down() -> bool:
    return _shutting_down.is_set()


def check_not_shutting_down() -> None:
    if _shutting_down.is_set():
        raise RuntimeError("shutting down: no new sandboxes")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the same cleanup runs; `signum` gives the exit status (128 + 15)."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"signal {signum}")
        self.signum = int(signum)


def install_signal_handlers() -> None:
    """Remove our containers on SIGINT/SIGTERM, then behave as the previous handler.

    Only the main thread may set handlers; elsewhere this is a no-op (atexit still runs).
    """
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    _handlers_installed = True
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)

        def handler(num, frame, previous=previous):
            if _shutting_down.is_set():  # a second Ctrl-C while stopping: the first one's cleanup goes on
                return                   # (it is bounded; kill -9 remains for the impatient)
            _shutting_down.set()
            cleanup_all()
            if callable(previous):
                previous(num, frame)
            elif num == signal.SIGINT:
                raise KeyboardInterrupt
            else:
                raise Terminated(num)

        signal.signal(signum, handler)


atexit.register(cleanup_all)
