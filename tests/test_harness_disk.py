"""Disk preflight and budget on the real Docker engine: a run that cannot fit its budget is refused
in one line before anything is built; under a budget the least-recently-used instance images go,
never one a container uses, never an image without our label."""
import time
import uuid

import docker
import pytest

from harness import disk
from harness.base_images import ensure_base_images
from harness.docker_util import LABEL, build_image, get_client
from harness_fixture import make_fixture_instance

pytestmark = pytest.mark.docker


def test_budget_below_the_need_is_refused_in_one_line(tmp_path, monkeypatch):
    from monkeys_swe.cli import cli
    from monkeys_swe.errors import UserError

    monkeypatch.setenv(disk.BUDGET_ENV, "")  # --disk-budget sets it for the process: undone after the test
    inst, mirror = make_fixture_instance(tmp_path)
    inst = inst.model_copy(update={"instance_id": f"monkeys__calc-disk{uuid.uuid4().hex[:8]}"})  # never built
    data = tmp_path / "data.jsonl"
    data.write_text(inst.model_dump_json(exclude_none=True) + "\n")
    need = disk.estimate([inst], get_client())
    assert need.new_instances == 1 and need.largest > 0
    budget = need.largest // 2
    with pytest.raises(UserError) as exc:
        cli.main(["verify", "--disk-budget", str(budget), "--data", str(data), "--repo-mirror", str(mirror), "--gold",
                  "--instance", inst.instance_id, "--report", str(tmp_path / "r.json")], standalone_mode=False)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(f"disk budget {disk.human(budget)} is below what one "
                                                       f"instance of this run needs ({disk.human(need.largest)}"), message
    assert not (tmp_path / "r.json").exists()  # refused before anything ran
    assert get_client().images.list(filters={"label": f"{LABEL}.instance={inst.instance_id}"}) == []
    with pytest.raises(UserError, match="--disk-budget: 'lots' is not a size"):
        cli.main(["verify", "--disk-budget", "lots", "--gold"], standalone_mode=False)


def test_budget_prunes_least_recently_used_instance_images_only(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # its own use record
    client = get_client()
    base = ensure_base_images(client)
    run = uuid.uuid4().hex[:10]
    scope = {f"{LABEL}.test": run}

    def image(name: str, *, ours: bool = True) -> str:
        tag = f"monkeys-swe/sweb:disk-{name}-{run}"
        labels = {LABEL: "1", f"{LABEL}.kind": "instance", f"{LABEL}.instance": f"disk-{name}", **scope} if ours \
            else {LABEL: "", f"{LABEL}.kind": "", "other-tool": run, f"{LABEL}.test": run}  # FROM ours, not ours
        build_image(client, tag, f"FROM {base}\nRUN head -c 4000000 /dev/urandom > /blob-{name}\n", {}, labels=labels)
        return tag

    old, in_use, new = image("old"), image("in-use"), image("new")
    foreign = image("foreign", ours=False)
    for tag in (in_use, old, new):  # least recently used first: in-use, then old, then new
        disk.touch(client, tag)
        time.sleep(0.01)
    container = client.containers.create(in_use, command=["true"], labels={LABEL: "1", **scope})
    try:
        rows = disk.held(client, scope)
        assert sorted(r.tag for r in rows) == sorted([old, in_use, new]) and all(r.own >= 4_000_000 for r in rows)
        removed = disk.enforce_budget(client, only=scope, limit=9_000_000)  # room for two of the three
        assert removed == [old], removed  # in-use is older but a container uses it
        tags = {t for i in client.images.list(filters={"label": f"{LABEL}.test={run}"}) for t in i.tags}
        assert tags == {in_use, new, foreign}
        assert disk.enforce_budget(client, only=scope, limit=1) == [new]  # never in-use, never foreign
    finally:
        container.remove(force=True)
        for tag in (old, in_use, new, foreign):
            try:
                client.images.remove(tag)
            except docker.errors.ImageNotFound:
                pass
