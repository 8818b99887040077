"""The layered images, for real: base -> environment layer (shared per (repo, version,
python)) -> thin instance layer; and `images prune` leaving images in use alone."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import images
from harness.docker_util import get_client
from harness.instance import SWEInstance
from harness.sandbox import Limits, Sandbox
from harness.verify import Verifier
from harness_fixture import FAIL_TO_PASS, INSTALL, PASS_TO_PASS, TEST_CMD, git, make_fixture_repo

pytestmark = pytest.mark.docker
REPO = "monkeys/calc-layers"  # a repo of its own: prune(repo=REPO) touches only this test's images


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory):
    """Two instances of one (repo, version): A at the env commit, B one commit later with a
    file changed, one added and one deleted."""
    tmp = tmp_path_factory.mktemp("layers")
    work = tmp / "src"
    base, gold, test_patch = make_fixture_repo(work)
    (work / "README.md").write_text("calc: tiny arithmetic, second edition\n")
    (work / "NOTES.txt").write_text("added in B\n")
    git(work, "rm", "-q", "pytest.ini")
    (work / "setup.cfg").write_text("[tool:pytest]\npythonpath = .\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "second")
    later = git(work, "rev-parse", "HEAD").strip()
    mirror = tmp / "mirror"
    mirror.mkdir()
    git(mirror, "clone", "-q", "--bare", str(work), "monkeys__calc-layers.git")
    common = dict(repo=REPO, patch=gold, test_patch=test_patch, FAIL_TO_PASS=FAIL_TO_PASS,
                  PASS_TO_PASS=PASS_TO_PASS, version="0.1", environment_setup_commit=base,
                  install=INSTALL, test_cmd=TEST_CMD, created_at="2024-01-01T00:00:00Z")
    a = SWEInstance(instance_id="monkeys__calc-layers-1", base_commit=base, **common)
    b = SWEInstance(instance_id="monkeys__calc-layers-2", base_commit=later, **common)
    return a, b, mirror


def _layers(client, tag: str) -> list[str]:
    return client.images.get(tag).attrs["RootFS"]["Layers"]


def test_instances_share_the_environment_layer_and_prune_spares_images_in_use(two_instances):
    a, b, mirror = two_instances
    client = get_client()
    ta, tb = {}, {}
    tag_a = images.build_instance_image(a, repo_mirror=str(mirror), timings=ta)
    tag_b = images.build_instance_image(b, repo_mirror=str(mirror), timings=tb)
    assert tag_a != tag_b and ta["env"] == tb["env"]  # one environment for both
    env = ta["env"]
    assert client.images.get(tag_a).labels["monkeys-swe.env"] == env
    env_layers = _layers(client, env)
    for tag in (tag_a, tag_b):  # the env image's layers are the bottom of each instance image
        layers = _layers(client, tag)
        assert layers[:len(env_layers)] == env_layers and len(layers) > len(env_layers)
        assert client.images.get(env).id in {h["Id"] for h in client.api.history(tag)}
    info = images.image_info(tag_b)
    assert info["python"] == "3.11" and info["substituted"] is False and info["env"] == env

    # B's tree is B's commit alone: the change, the addition, the deletion; no env history.
    with Sandbox(tag_b, limits=Limits(timeout_s=60)) as sb:
        out = sb.exec("cat README.md; ls; git rev-list --all --count; git log -1 --format=%s; "
                      "git status --porcelain | wc -l; git fsck --unreachable --no-reflogs 2>&1 | wc -l",
                      workdir="/testbed").output.split("\n")
    assert out[0] == "calc: tiny arithmetic, second edition"
    listing = out[1:out.index("1")]
    assert "NOTES.txt" in listing and "setup.cfg" in listing and "pytest.ini" not in listing
    tail = out[out.index("1"):]
    assert tail[:4] == ["1", f"base {b.base_commit}", "0", "0"], out

    with Verifier(b, repo_mirror=str(mirror), image=tag_b, pool_size=1, limits=Limits(timeout_s=120)) as v:
        assert v.verify(b.patch).status == "resolved"

    rows = {r["tags"][0]: r for r in images.list_images() if r["tags"]}
    assert rows[tag_b]["shared_mb"] >= rows[tag_b]["unique_mb"]  # disk per instance: mostly shared
    from click.testing import CliRunner

    from monkeys_swe.cli.images import command

    cli = CliRunner().invoke(command, ["list"])
    assert cli.exit_code == 0 and "unique" in cli.output and "all image layers on the daemon" in cli.output

    # prune: A is in use by a container -> kept (and so is the env, its parent); B goes.
    with Sandbox(tag_a, limits=Limits(timeout_s=60)):
        result = images.prune(repo=REPO)
        assert tag_b in result["images"] and tag_a not in result["images"]
        assert any(k.startswith(tag_a) for k in result["kept"])
        assert {t for i in client.images.list() for t in i.tags} >= {tag_a, env}
    result = images.prune(repo=REPO)  # nothing in use any more
    assert {tag_a, env} <= set(result["images"])
    assert not {tag_a, tag_b, env} & {t for i in client.images.list() for t in i.tags}
