"""Disk that looks after itself: a preflight before building, and a budget kept during long runs.

Preflight (`preflight`): before images are built, the disk the selected instances need is
estimated (0 for an instance whose image exists; for a missing one, the median size of this
engine's instance layers; per environment not built yet, the median of its environment layers;
per missing offline base, its usual size) and compared with the free space on the engine's
storage and with `--disk-budget` (MONKEYS_SWE_DISK_BUDGET). A run that cannot fit is refused in
one line, before any build starts.

Budget (`enforce_budget`): under a budget, each image the harness makes or reuses is recorded
as used now (`touch`, in SQLite next to the verdict cache); before a build, and after, our
instance images (and then environment images no instance image needs) are removed
least-recently-used first until ours fit. Never an image a container uses or that this process
is verifying on (`keep`), never forced, never an image without our label (other tools' images).
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from docker.errors import APIError, ImageNotFound, NotFound

from harness.docker_util import LABEL, disk_usage

log = logging.getLogger(__name__)

BUDGET_ENV = "MONKEYS_SWE_DISK_BUDGET"
# Estimates when this engine has no image of the kind yet (measured here: median unique instance
# layer 8 MB, environments 150 MB to 2 GB, an offline Python base about 420 MB).
INSTANCE_GUESS = 64 << 20
ENV_GUESS = 1 << 30
BASE_GUESS = 512 << 20
RESERVE = 2 << 30  # free space a run leaves for the engine's own use (containers' writes, logs)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_lock = threading.Lock()


class DiskError(RuntimeError):
    """A run that will not fit (one line, saying what it needs and what there is)."""


def parse_size(text: str | int) -> int:
    """'40g', '512m', '1.5t', or bytes -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*", str(text).lower())
    if not m:
        raise DiskError(f"{text!r} is not a size: write e.g. 40g, 512m or 1.5t")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def budget() -> int | None:
    value = os.environ.get(BUDGET_ENV)
    return parse_size(value) if value else None


# -- what our images hold ----------------------------------------------------------------
def plain(tag: str) -> str:
    """A tag as we wrote it: Podman reports `monkeys-swe/env:x` as `docker.io/monkeys-swe/env:x`
    (or `localhost/...`)."""
    for prefix in ("docker.io/library/", "docker.io/", "localhost/"):
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return tag


@dataclass
class Held:
    tag: str
    image_id: str
    kind: str  # instance | env | base
    own: int  # bytes of its own layers (its size less its parent image's)
    labels: dict


def held(client, only: dict[str, str] | None = None) -> list[Held]:
    """Our images (`only`: those with these labels too) with the bytes each adds over the image it
    was built on."""
    images = client.images.list(filters={"label": [LABEL, *(f"{k}={v}" for k, v in (only or {}).items())]})
    size = {}
    for image in images:
        for tag in image.tags:
            size[plain(tag)] = int(image.attrs.get("Size") or 0)
    rows, unique = [], None
    for image in images:
        labels = image.labels or {}
        if labels.get(LABEL) != "1":
            continue
        kind = labels.get(f"{LABEL}.kind", "?")
        total = int(image.attrs.get("Size") or 0)
        if kind == "instance":
            parent = size.get(labels.get(f"{LABEL}.env", ""))
        elif kind == "env":
            parent = size.get(f"monkeys-swe/python:{labels.get(f'{LABEL}.python', '')}")
        else:
            parent = 0
        if parent is None:  # built on an image we do not know: the engine's count of its unshared bytes
            if unique is None:
                unique = {i["Id"]: int(i.get("Size") or 0) - max(int(i.get("SharedSize") or 0), 0)
                          for i in disk_usage(client).get("Images") or []}
            own = unique.get(image.id, total)
        else:
            own = total - parent
        rows.append(Held(plain(image.tags[0]) if image.tags else image.short_id, image.id, kind, max(0, own), labels))
    return rows


def ours_bytes(rows: list[Held]) -> int:
    """What the budget counts: our instance and environment layers (the offline bases are shared
    by every run and tiny next to them, so they are outside it)."""
    return sum(r.own for r in rows if r.kind in ("instance", "env"))


def _median(xs: list[int], default: int) -> int:
    xs = sorted(x for x in xs if x > 0)
    return xs[len(xs) // 2] if xs else default


# -- free space on the engine's storage --------------------------------------------------
def free_bytes(client) -> int | None:
    """Free bytes where the engine keeps images; None where this machine cannot see it (a remote
    Docker engine: it has no API for free space; Podman's reports its storage's)."""
    from harness import engine

    info = engine.describe(client)
    if info.kind == "podman":
        try:
            lib = client.api._result(client.api.get(client.api.base_url + "/v4.0.0/libpod/info"), True)
            store = lib.get("store", {})
            if store.get("graphRootAllocated"):
                return int(store["graphRootAllocated"]) - int(store.get("graphRootUsed") or 0)
        except (APIError, ValueError, KeyError):
            pass
    if not info.remote and info.storage and os.path.isdir(info.storage):
        return shutil.disk_usage(info.storage).free
    return None


# -- preflight ---------------------------------------------------------------------------
@dataclass
class Need:
    total: int  # bytes all missing images of the run take
    largest: int  # the most one instance adds (its environment, its layer, its base)
    new_instances: int
    new_envs: int
    new_bases: int

    def describe(self) -> str:
        return (f"about {human(self.total)} ({self.new_instances} new instance images, {self.new_envs} new "
                f"environments, {self.new_bases} new base images)")


def estimate(instances: Iterable, client) -> Need:
    """The disk the selected instances' missing images need (see the module's docstring)."""
    from harness import base_images, specs

    rows = held(client)
    have_inst = {r.labels.get(f"{LABEL}.instance") for r in rows if r.kind == "instance"}
    have_env = {(r.labels.get(f"{LABEL}.repo"), r.labels.get(f"{LABEL}.version")) for r in rows if r.kind == "env"}
    tags = {plain(t) for image in client.images.list() for t in image.tags}
    inst_size = _median([r.own for r in rows if r.kind == "instance"], INSTANCE_GUESS)
    env_size = _median([r.own for r in rows if r.kind == "env"], ENV_GUESS)
    total = largest = n_inst = 0
    envs, bases = set(), set()
    for inst in instances:
        if inst.instance_id in have_inst:
            continue
        n_inst += 1
        one = inst_size
        key = (inst.repo, inst.version)
        if key not in have_env:
            if key not in envs:
                total += env_size
            envs.add(key)
            one += env_size
        try:
            base = base_images.python_image_tag(base_images.python_base_for(specs.resolve(inst).python))
        except ValueError:  # a Python no base has: the build will say so
            base = base_images.PYTHON_IMAGE
        if base not in tags:
            if base not in bases:
                total += BASE_GUESS
            bases.add(base)
            one += BASE_GUESS
        total += inst_size
        largest = max(largest, one)
    return Need(total, largest, n_inst, len(envs), len(bases))


def preflight(instances: Iterable, client=None) -> Need:
    """Refuse (DiskError, one line) a run whose missing images do not fit the free disk or the budget."""
    from harness.docker_util import get_client

    client = client or get_client()
    need = estimate(list(instances), client)
    limit = budget()
    if limit is not None and need.largest > limit:
        raise DiskError(f"disk budget {human(limit)} is below what one instance of this run needs "
                        f"({human(need.largest)}; the run needs {need.describe()}): raise --disk-budget")
    free = free_bytes(client)
    if free is not None:
        # under a budget, old images make room as the run goes: only the budget's worth must fit
        wanted = min(need.total, max(0, limit - ours_bytes(held(client)))) if limit is not None else need.total
        wanted = max(wanted, need.largest) if need.total else 0
        if wanted + RESERVE > free:
            raise DiskError(f"not enough disk on the engine's storage: the run needs {need.describe()} plus "
                            f"{human(RESERVE)} spare, and {human(free)} is free: free space, or set "
                            "--disk-budget to prune old instance images as it goes")
    log.info("disk preflight: the run needs %s; free %s; budget %s", need.describe(),
             human(free) if free is not None else "unknown", human(limit) if limit else "none")
    return need


# -- least-recently-used record and pruning ----------------------------------------------
def _db_path() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "monkeys-swe"
    root.mkdir(parents=True, exist_ok=True)
    return root / "image_use.db"


def _db() -> sqlite3.Connection:
    con = sqlite3.connect(_db_path(), timeout=30)
    con.execute("CREATE TABLE IF NOT EXISTS used (engine TEXT, tag TEXT, at REAL, PRIMARY KEY (engine, tag))")
    return con


def _engine_key(client) -> str:
    from harness import engine

    return engine.address(client)


def touch(client, tag: str) -> None:
    """Record that `tag` was used now (for least-recently-used pruning)."""
    with _lock, _db() as con:
        con.execute("INSERT OR REPLACE INTO used VALUES (?, ?, ?)", (_engine_key(client), tag, time.time()))


def last_used(client) -> dict[str, float]:
    with _lock, _db() as con:
        return dict(con.execute("SELECT tag, at FROM used WHERE engine = ?", (_engine_key(client),)))


def enforce_budget(client, *, room: int = 0, keep: Iterable[str] = (), only: dict[str, str] | None = None,
                   limit: int | None = None) -> list[str]:
    """Remove our least-recently-used instance images (then environments no image of ours needs)
    until ours plus `room` fit the budget (`limit`, default --disk-budget); returns the removed tags.
    No budget: nothing. `only`: consider only images with these labels (a test's own)."""
    limit = budget() if limit is None else limit
    if limit is None:
        return []
    rows = held(client, only)
    used = ours_bytes(rows)
    if used + room <= limit:
        return []
    keep = set(keep)
    in_use = {c.attrs.get("Image") for c in client.containers.list(all=True, ignore_removed=True)}
    when = last_used(client)
    removed = []
    for kind in ("instance", "env"):
        needed_envs = {r.labels.get(f"{LABEL}.env") for r in held(client) if r.kind == "instance"} \
            if kind == "env" else set()
        candidates = sorted((r for r in rows if r.kind == kind), key=lambda r: when.get(r.tag, 0.0))
        for r in candidates:
            if used + room <= limit:
                break
            if r.tag in keep or r.image_id in in_use or r.tag in needed_envs:
                continue
            try:
                client.images.remove(r.tag)  # never forced: an image taken into use stays
            except (APIError, ImageNotFound, NotFound) as exc:
                log.info("disk budget: kept %s (%s)", r.tag, str(exc).splitlines()[0][:80])
                continue
            used -= r.own
            removed.append(r.tag)
        rows = held(client, only)
    if removed:
        log.info("disk budget %s: removed %d least-recently-used images (%s); ours now %s", human(limit),
                 len(removed), ", ".join(removed[:5]), human(used))
    if used + room > limit:
        log.warning("disk budget %s: ours hold %s and nothing more can go (in use)", human(limit), human(used))
    return removed
