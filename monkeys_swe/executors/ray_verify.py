"""Verification on Ray: a task per (deduplicated) candidate, an actor per (node, instance).

A verification task asks for one unit of the custom resource `docker` (a node declares how many
sandboxes it runs at once: `ray start --resources '{"docker": 4}'`), so Ray alone decides where
and when it runs and queues what does not fit. On its node the task finds, or creates, the one
actor that serves that instance there (a named actor pinned to the node): the actor owns the
instance's image and a warm sandbox pool, so hundreds of candidates of one issue pay the image
setup once per node. A node that dies takes its tasks with it; Ray retries them elsewhere
(`max_retries`; actor deaths via `retry_exceptions`). The driver gets one result per task, so
every attempt is judged exactly once however often its task ran.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Callable

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

NAMESPACE = "monkeys-swe"
RETRY_EXCEPTIONS = [ActorDiedError, ActorUnavailableError]  # the node's actor went away: go again


class SetupError(RuntimeError):
    """The instance could not be prepared on this node (image build, repository...)."""


@contextmanager
def node_lock(key: str):
    """One holder per machine (per Docker daemon) at a time: an image is built once per node."""
    folder = os.path.join(tempfile.gettempdir(), "monkeys-swe-locks")
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    with open(os.path.join(folder, f"{name}.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@ray.remote(num_cpus=0, max_concurrency=64, max_restarts=0)
class NodeVerifier:
    """Holds what verifies one instance on one node (a harness Verifier, or a task), warm."""

    def __init__(self, factory: Callable[[], Any], lock_key: str):
        self.obj, self.error, self.calls = None, None, 0  # calls: started so far
        start = time.time()
        try:
            with node_lock(lock_key):
                self.obj = factory()
        except Exception as exc:  # reported with every call, as an `error` verdict on the driver
            self.error = f"{type(exc).__name__}: {exc}"
        self._ready = time.time()
        self._setup_s: float | None = self._ready - start  # reported once, with the first call

    def call(self, method: str, *args: Any) -> tuple[Any, dict[str, float]]:
        """(the method's result, when it ran: start/end epoch seconds, when the actor was ready,
        and with the first call the seconds its setup took)."""
        self.calls += 1
        if self.error is not None:
            raise SetupError(self.error)
        start = time.time()
        result = getattr(self.obj, method)(*args)
        times = {"start": start, "end": time.time(), "ready": self._ready}
        if self._setup_s is not None:
            times["setup"], self._setup_s = self._setup_s, None
        return result, times

    def close(self) -> None:
        close = getattr(self.obj, "close", None)
        if close is not None:
            close()


_handles: dict[str, Any] = {}  # per worker process: actor name -> handle


def actor_name(name: str, node_id: str) -> str:
    return f"{name}@{node_id[:12]}"


@ray.remote(num_cpus=0)
def dispatch(name: str, factory: Callable[[], Any], method: str, args: tuple,
             submitted: float = 0.0) -> tuple[bool, Any, dict[str, float]]:
    """Runs where Ray placed it (a free `docker` slot); the work runs in this node's actor.
    Returns (True, result, phases) or (False, the exception the work raised, phases); a lost
    actor raises, so that Ray retries the task. `phases`: seconds spent queued (driver submit
    to this task's start, a free slot included), on the actor lookup, getting into the actor
    (its one-off setup apart), in the work, and getting back out; `end` is when this returned."""
    t0 = time.time()
    node = ray.get_runtime_context().get_node_id()
    full = actor_name(name, node)
    for attempt in range(2):
        actor = _handles.get(full)
        if actor is None:
            actor = _handles[full] = node_actor(name, factory, node)
        t1 = time.time()
        try:
            result, times = ray.get(actor.call.remote(method, *args))
        except tuple(RETRY_EXCEPTIONS):
            _handles.pop(full, None)  # closed by an earlier driver, or lost: make a new one
            if attempt:
                raise
            continue
        except Exception as exc:
            return False, _cause(exc), {"queued": t0 - submitted if submitted else 0.0, "end": time.time()}
        t2 = time.time()
        setup = max(0.0, min(times["ready"], times["start"]) - t1)  # waited on (prewarm hides it)
        return True, result, {"queued": t0 - submitted if submitted else 0.0, "actor_lookup": t1 - t0,
                              "setup_wait": setup, "setup": times.get("setup", 0.0),
                              "to_actor": max(0.0, times["start"] - t1 - setup),
                              "work": times["end"] - times["start"], "from_actor": t2 - times["end"],
                              "end": t2, "t_start": t0, "t_stop": t2, "node": full}
    raise AssertionError("unreachable")


def node_actor(name: str, factory: Any, node_id: str) -> Any:
    """The actor serving `name` on that node: found by name, or started there (pinned)."""
    return NodeVerifier.options(
        name=actor_name(name, node_id), namespace=NAMESPACE, get_if_exists=True, lifetime="detached",
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
    ).remote(factory, name)


def docker_nodes() -> dict[str, int]:
    """node id -> `docker` slots, for the live nodes that declare the resource."""
    return {n["NodeID"]: int(n["Resources"].get("docker", 0)) for n in ray.nodes()
            if n.get("Alive") and n.get("Resources", {}).get("docker", 0) >= 1}


def prewarm(works: list[tuple[str, Any]]) -> list[str]:
    """Start, now and without waiting, the actors that each Docker node's first tasks will need:
    (node, instance) for the first `slots` of `works` per node. Their setup (imports, image
    check, warm sandboxes: seconds) then overlaps generation instead of delaying the first
    verification there. Returns the names started (an error surfaces with the first call)."""
    started = []
    packed: dict[str, Any] = {}
    nodes = docker_nodes()
    for node_id, slots in nodes.items():
        for name, factory in works[:slots]:
            if name not in packed:
                packed[name] = ray.put(factory)
            node_actor(name, packed[name], node_id)
            started.append(name)
    # This job's worker processes too: each `docker` slot gets one now (a process start and this
    # module's import, about a CPU-second each) instead of when its first candidate arrives.
    for _ in range(sum(nodes.values()) if works else 0):
        _warm_worker.options(resources={"docker": 1}).remote(WARM_HOLD_S)
    return list(dict.fromkeys(started))


WARM_HOLD_S = 0.5  # long enough that the warm-ups overlap, so each slot starts its own worker


@ray.remote(num_cpus=0)
def _warm_worker(hold_s: float) -> None:
    time.sleep(hold_s)  # running at all is the point: the worker (and this module) is loaded


def close_actors(names: set[str], timeout_s: float = 60) -> None:
    """Close the sandbox pools of the actors serving `names` on every node, then end them
    (they are detached: they would outlive the driver)."""
    actors = []
    for node in ray.nodes():
        for name in names:
            try:
                actors.append(ray.get_actor(actor_name(name, node["NodeID"]), namespace=NAMESPACE))
            except ValueError:  # never made there, or gone with its node
                pass
    pending = [a.close.remote() for a in actors]
    if pending:
        ray.wait(pending, num_returns=len(pending), timeout=timeout_s)
    for a in actors:
        ray.kill(a)


class RayVerifyPool:
    """submit_call(name, factory, method, args, error) -> Future of the result; at most
    `max_in_flight` at once. `error(exc)` turns a failure that no retry fixed into the caller's
    own `error` verdict, so the Future always resolves to a verdict."""

    def __init__(self, *, max_in_flight: int, max_retries: int = 3, actors: set[str] | None = None,
                 timings: Any = None):
        self._slots = threading.Semaphore(max(1, max_in_flight))
        self.timings = timings if timings is not None else []  # per finished task: phase -> seconds (appended)
        self._retries = max_retries
        self._refs: set = set()
        self._lock = threading.Lock()
        self._factories: dict[str, Any] = {}
        self.actors = actors if actors is not None else set()  # names of the work served, for close

    def submit_call(self, name: str, factory: Callable[[], Any], method: str, args: tuple,
                    error: Callable[[BaseException], Any]) -> Future:
        self._slots.acquire()  # backpressure: the driver never holds more than max_in_flight refs
        with self._lock:
            if name not in self._factories:  # shipped to the cluster once per instance
                self._factories[name] = ray.put(factory)
            packed = self._factories[name]
        self.actors.add(name)
        submitted = time.time()
        ref = dispatch.options(resources={"docker": 1}, max_retries=self._retries,
                               retry_exceptions=RETRY_EXCEPTIONS).remote(name, packed, method, args, submitted)
        out: Future = Future()
        with self._lock:
            self._refs.add(ref)

        def finished(f: Future) -> None:
            with self._lock:
                self._refs.discard(ref)
            self._slots.release()
            try:
                ok, result, phases = f.result()
                phases["returned"] = max(0.0, time.time() - phases.pop("end"))
                phases["total"] = time.time() - submitted
                self.timings.append(phases)
                if not ok:
                    result = error(result)
            except BaseException as exc:  # no retry fixed it: the verifier could not judge
                result = error(_cause(exc))
            out.set_result(result)

        ref.future().add_done_callback(finished)
        return out

    def shutdown(self, wait: bool = False, cancel_futures: bool = True) -> None:
        with self._lock:
            refs = list(self._refs)
        if cancel_futures:
            for ref in refs:
                try:
                    ray.cancel(ref, force=False)
                except Exception:  # finished meanwhile, or the cluster is going away
                    pass


def _cause(exc: BaseException) -> BaseException:
    """The user-level exception inside Ray's wrapper (RayTaskError carries it as `cause`)."""
    return getattr(exc, "cause", None) or exc
