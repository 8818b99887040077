"""How many sandboxes live at once on an engine: a cap, a ramp-up, and back-off when it struggles.

Docker (and Podman) grow flaky when far more containers start at once than the machine has
cores: starts take seconds, execs stall, the engine answers 500. So every sandbox takes a slot
of its engine's gate before its container is created and gives it back when removed:

- cap: MONKEYS_SWE_MAX_SANDBOXES, else from the engine's machine: 2 per CPU, at most one per
  GiB of its memory, at least 2;
- ramp-up: the window of live sandboxes starts at 2 and grows by one with each start that was
  quick (under SLOW_START_S), up to the cap, instead of a burst of `pool_size` starts at once;
- back-off: a slow start, a slow answer to `exec` (SLOW_EXEC_S to create one), or an engine
  error halves the window (at least 1); quick starts grow it again, one at a time.

A thread that waits longer than MAX_WAIT_S for a slot goes ahead anyway (counted as `over`):
a caller that holds one sandbox while it starts another must not wait forever on itself.
`stats()` (cap, window, settled, peak, waits, backoffs, over) goes in the run log and summary.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field

log = logging.getLogger(__name__)

SLOW_START_S = float(os.environ.get("MONKEYS_SWE_SLOW_START_S") or 15.0)
SLOW_EXEC_S = 5.0
MAX_WAIT_S = 120.0
INITIAL_WINDOW = 2


def default_cap(ncpu: int, mem_bytes: int) -> int:
    if os.environ.get("MONKEYS_SWE_MAX_SANDBOXES"):
        return max(1, int(os.environ["MONKEYS_SWE_MAX_SANDBOXES"]))
    by_memory = mem_bytes // (1 << 30) if mem_bytes else 2 * ncpu
    return max(2, min(2 * ncpu, by_memory))


@dataclass
class GateStats:
    engine: str
    cap: int
    window: int
    live: int = 0
    peak: int = 0
    starts: int = 0
    waits: int = 0  # starts that had to wait for a slot
    backoffs: int = 0
    over: int = 0  # starts that went ahead over the window after MAX_WAIT_S
    engine_errors: int = 0
    events: list[str] = field(default_factory=list)  # the last back-offs, with their cause

    def settled(self) -> int:
        return self.window


class Gate:
    def __init__(self, engine: str, cap: int):
        self.stats = GateStats(engine=engine, cap=cap, window=min(cap, INITIAL_WINDOW))
        self._cond = threading.Condition()
        self._waiting = 0

    def acquire(self, *, wait: bool = True) -> bool:
        """Take a slot; False only when `wait` is False and none is free."""
        s = self.stats
        with self._cond:
            if s.live >= s.window or (not wait and self._waiting):  # a spare never jumps the queue
                if not wait:
                    return False
                s.waits += 1
                self._waiting += 1
                deadline = time.monotonic() + MAX_WAIT_S
                try:
                    while s.live >= s.window:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            s.over += 1
                            log.warning("sandbox gate %s: waited %.0fs for a slot; starting over the window %d",
                                        s.engine, MAX_WAIT_S, s.window)
                            break
                        self._cond.wait(left)
                finally:
                    self._waiting -= 1
            s.live += 1
            s.starts += 1
            s.peak = max(s.peak, s.live)
            return True

    def release(self) -> None:
        with self._cond:
            self.stats.live = max(0, self.stats.live - 1)
            self._cond.notify()

    def started(self, seconds: float) -> None:
        """A container start took `seconds`: quick ones widen the window, slow ones halve it."""
        if seconds >= SLOW_START_S:
            self.back_off(f"a sandbox took {seconds:.1f}s to start")
            return
        with self._cond:
            if self.stats.window < self.stats.cap:
                self.stats.window += 1
                self._cond.notify()

    def back_off(self, cause: str, *, error: bool = False) -> None:
        with self._cond:
            s = self.stats
            s.engine_errors += error
            before, s.window = s.window, max(1, s.window // 2)
            s.backoffs += 1
            s.events = (s.events + [f"{time.strftime('%H:%M:%S')} {cause}: window {before} -> {s.window}"])[-10:]
        log.warning("sandbox gate %s: %s; live sandboxes at most %d now (cap %d)", s.engine, cause, s.window, s.cap)


_gates: dict[str, Gate] = {}
_lock = threading.Lock()


def gate(client) -> Gate:
    """The gate of `client`'s engine (one per engine address in this process)."""
    from harness import engine

    key = engine.address(client)
    with _lock:
        if key not in _gates:

            info = engine.describe(client)
            _gates[key] = Gate(f"{info.kind}@{key}", default_cap(info.ncpu, info.mem_bytes))
            log.info("sandbox gate %s: cap %d live sandboxes (ramping up from %d)", info.kind,
                     _gates[key].stats.cap, _gates[key].stats.window)
        return _gates[key]


def stats() -> list[dict]:
    """Every engine's gate: cap, the window it settled on, peak live, waits, back-offs."""
    with _lock:
        gates = list(_gates.values())
    return [{**asdict(g.stats), "settled": g.stats.settled()} for g in gates]


def summary_line() -> str:
    return "; ".join(f"{s['engine'].split('@')[0]}: cap {s['cap']}, settled on {s['settled']}, peak {s['peak']} live, "
                     f"{s['waits']} waits, {s['backoffs']} back-offs, {s['engine_errors']} engine errors"
                     for s in stats())
