"""Fresh sandboxes on demand, with their start and removal kept off the critical path.

Every verification attempt gets a new container (a pristine snapshot by construction:
nothing an earlier attempt did can leak). Starting one costs about 0.5 s and removing one
about 0.2 s; the pool starts the next sandboxes while the current attempts run their
tests and removes used ones in the background, so an attempt waits only for its own work.
"""
from __future__ import annotations

import collections
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from harness import lifecycle
from harness.docker_util import LABEL, get_client
from harness.sandbox import Limits, NoSlot, Sandbox


class SandboxPool:
    def __init__(self, image: str, *, spares: int = 2, limits: Limits = Limits(),
                 network: bool = False, workdir: str = "/testbed", labels: dict | None = None,
                 client=None, blackhole: tuple[str, ...] = ()):
        lifecycle.reap_orphans(client or get_client(), LABEL)  # leftovers of killed processes
        # Spares take a free slot of the engine's gate (harness.capacity) or are not made: a
        # lifecycle thread waiting for a slot would hold up the removals that free one.
        self._make = lambda wait=True: Sandbox(image, limits=limits, network=network, workdir=workdir,
                                               labels=labels, client=client,
                                               blackhole=blackhole).start(wait_for_slot=wait)
        self._spares = max(0, spares)
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sandbox-lifecycle")
        self._ready: collections.deque[Future] = collections.deque()
        self._lock = threading.Lock()
        self._closed = False
        self.prefill()

    def prefill(self) -> None:
        with self._lock:
            while not self._closed and len(self._ready) < self._spares:
                self._ready.append(self._executor.submit(self._make, False))

    def acquire(self) -> Sandbox:
        """A started, never-used sandbox (a spare when one is ready)."""
        lifecycle.check_not_shutting_down()
        with self._lock:
            future = self._ready.popleft() if self._ready else None
        try:
            sandbox = future.result() if future is not None else None
        except NoSlot:  # no spare could be made then: wait for a slot now
            sandbox = None
        sandbox = sandbox or self._make()
        self.prefill()
        return sandbox

    def release(self, sandbox: Sandbox) -> None:
        """Remove a used sandbox in the background (it is registered for cleanup until then)."""
        try:
            if not self._closed:
                self._executor.submit(sandbox.close)
                return
        except RuntimeError:  # the executor shut down in between
            pass
        sandbox.close()

    def close(self) -> None:
        """Remove the spares and wait for pending removals."""
        with self._lock:
            self._closed = True
            pending, self._ready = list(self._ready), collections.deque()
        for future in pending:
            if not future.cancel():
                try:
                    future.result().close()
                except Exception:  # a spare that failed to start has nothing to remove
                    pass
        self._executor.shutdown(wait=True)

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
