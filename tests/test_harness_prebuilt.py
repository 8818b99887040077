"""Prebuilt images the way users with a registry get them (harness.prebuilt).

No registry answers here, so the prebuilt image is built locally with the layout of
swebench's and Epoch AI's eval images: conda under /opt/miniconda3 (a `bin/activate` that
defines a `conda` shell function; `conda activate testbed` puts the env's bin first on
PATH), a real venv as the env `testbed` (the only place with a `pytest` command: the
Debian one is removed and the base venv is off PATH), and the repository with its full
history at /testbed, checked out at the base commit. The fixture instance is verified
through that image, once with our eval script and once with a swebench 5.x row's own.
"""
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import docker
import pytest

from harness import prebuilt
from harness.base_images import ensure_base_images
from harness.docker_util import LABEL, build_image, image_exists
from harness.instance import DataError, SWEInstance
from harness.sandbox import Limits, Sandbox
from harness.verify import Verifier
from harness_fixture import GOLD_EDIT, git, gold_source, make_fixture_instance, make_patch

pytestmark = pytest.mark.docker
LIMITS = Limits(memory="512m", cpus=1, pids=128, timeout_s=90)
IID = "monkeys__calc-conda"  # not the shared fixture's id: no other test ever sees these tags

ACTIVATE = r"""# conda's activate, reduced to what eval scripts use: it defines `conda` and activates base.
_CONDA_ROOT=/opt/miniconda3
conda() {
  case "${1:-}" in
    activate)
      local env="${2:-base}" prefix=/opt/miniconda3
      [ "$env" = base ] || prefix="$_CONDA_ROOT/envs/$env"
      if [ ! -x "$prefix/bin/python" ]; then
        echo "EnvironmentNameNotFound: Could not find conda environment: $env" >&2; return 1
      fi
      export CONDA_DEFAULT_ENV="$env" CONDA_PREFIX="$prefix" PATH="$prefix/bin:$PATH" ;;
    deactivate) export PATH="${PATH#"$CONDA_PREFIX/bin:"}"; unset CONDA_DEFAULT_ENV CONDA_PREFIX ;;
    *) "$_CONDA_ROOT/bin/conda" "$@" ;;
  esac
}
export PATH="$_CONDA_ROOT/bin:$PATH"
conda activate base
"""
CONDA = r"""#!/bin/sh
# The conda command for what runs outside a shell hook: listing envs.
if [ "$1 $2" = "env list" ]; then
  echo "base  /opt/miniconda3"; for d in /opt/miniconda3/envs/*/; do echo "$(basename "$d")  ${d%/}"; done
  exit 0
fi
echo "conda $*: not supported by this test layout" >&2; exit 2
"""
PYTEST = '#!/bin/sh\nexec /opt/miniconda3/envs/testbed/bin/python -m pytest "$@"\n'
DOCKERFILE = f"""\
FROM {{base}}
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin VIRTUAL_ENV=
RUN rm -f /usr/bin/pytest* /usr/bin/py.test* \\
 && mkdir -p /opt/miniconda3/bin /opt/miniconda3/envs \\
 && ln -s /usr/bin/python3 /opt/miniconda3/bin/python \\
 && python3 -m venv --system-site-packages /opt/miniconda3/envs/testbed
COPY activate /opt/miniconda3/bin/activate
COPY conda /opt/miniconda3/bin/conda
COPY pytest /opt/miniconda3/envs/testbed/bin/pytest
COPY repo/ /testbed/
WORKDIR /testbed
LABEL {LABEL}=1 {LABEL}.kind=test
"""


def official_eval_sh(inst: SWEInstance, test_cmd: str) -> str:
    """An eval.sh in the shape swebench writes into 5.x rows (markers as xtrace'd no-ops)."""
    files = "tests/test_ops.py"
    return "\n".join([
        "#!/bin/bash", "set -uxo pipefail", "source /opt/miniconda3/bin/activate", "conda activate testbed",
        "cd /testbed", "git config --global --add safe.directory /testbed", "cd /testbed", "git status",
        "git show", f"git -c core.fileMode=false diff {inst.base_commit}",
        "source /opt/miniconda3/bin/activate", "conda activate testbed",
        f"git checkout {inst.base_commit} {files}",
        "git apply -v - <<'EOF_114329324912'", inst.test_patch.rstrip("\n"), "EOF_114329324912",
        ": '>>>>> Start Test Output'", test_cmd, ": '>>>>> End Test Output'",
        f"git checkout {inst.base_commit} {files}", ""])


def _repo_tar(path: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(path, arcname=".")
    return buf.getvalue()


@pytest.fixture(scope="module")
def conda_image(tmp_path_factory):
    """(instance, image tag): the fixture repo in a conda-layout image, plus Epoch AI's name for it."""
    client = docker.from_env()
    calc, mirror = make_fixture_instance(tmp_path_factory.mktemp("calc"))
    inst = calc.model_copy(update={"instance_id": IID, "install": None})
    work = tmp_path_factory.mktemp("testbed") / "testbed"
    git(work.parent, "clone", "-q", str(mirror / "monkeys__calc.git"), str(work))
    git(work, "checkout", "-q", inst.base_commit)  # detached at the base, history kept
    dockerfile = DOCKERFILE.format(base=ensure_base_images(client))
    files = {"activate": ACTIVATE.encode(), "conda": (CONDA.encode(), 0o755), "pytest": (PYTEST.encode(), 0o755)}
    digest = hashlib.sha256("\0".join([dockerfile, ACTIVATE, CONDA, PYTEST, inst.base_commit,
                                       client.images.get(ensure_base_images(client)).id]).encode()).hexdigest()
    tag = f"monkeys-swe/test-conda:calc-{digest[:12]}"
    if not image_exists(client, tag):
        build_image(client, tag, dockerfile, files, extra_tar=_repo_tar(work),
                    labels={LABEL: "1", f"{LABEL}.kind": "test"})
    epoch = prebuilt.epoch_name(IID)
    client.images.get(tag).tag(epoch)
    try:
        yield inst, tag, mirror
    finally:
        client.images.remove(epoch)


def test_sources_and_names():
    inst = SWEInstance(instance_id="django__django-11099", repo="django/django", base_commit="abc")
    auto = [n for n, _ in prebuilt.prebuilt_names(inst)]
    assert auto == ["swebench/sweb.eval.x86_64.django_1776_django-11099:latest",
                    "sweb.eval.x86_64.django__django-11099:latest",
                    "ghcr.io/epoch-research/swe-bench.eval.x86_64.django__django-11099:latest"]
    assert [n for n, _ in prebuilt.prebuilt_names(inst, "epoch")] == auto[2:]
    assert prebuilt.prebuilt_names(inst, "local") == prebuilt.prebuilt_names(inst, False) == []
    row = inst.model_copy(update={"image": "docker.io/swebench/custom:v1"})
    assert prebuilt.prebuilt_names(row, "swebench")[0] == ("docker.io/swebench/custom:v1", True)
    assert prebuilt.registry_of(auto[0]) == "docker.io" and prebuilt.registry_of(auto[2]) == "ghcr.io"
    with pytest.raises(DataError, match="unknown image source 'dockerhub'.*auto, swebench, epoch, local"):
        prebuilt.source_of("dockerhub")


def test_unreachable_registry_is_remembered():
    client = docker.from_env()
    name = "registry.invalid/monkeys/none:latest"  # .invalid never resolves (RFC 6761)
    assert prebuilt.try_pull(client, name) is False
    assert "registry.invalid" in prebuilt.unreachable_registries()
    assert prebuilt.try_pull(client, "registry.invalid/other:1") is False


def test_conda_layout_is_what_runs_the_tests(conda_image):
    _, tag, _ = conda_image
    with Sandbox(tag, limits=LIMITS) as sb:
        bare = sb.exec("command -v pytest || echo none")
        active = sb.exec("source /opt/miniconda3/bin/activate && conda activate testbed && command -v pytest"
                         " && python -c 'import sys; print(sys.prefix)' && conda env list")
        missing = sb.exec("source /opt/miniconda3/bin/activate && conda activate nosuch")
    assert bare.output.strip() == "none"
    assert active.exit_code == 0, active.output
    assert active.output.splitlines()[:2] == ["/opt/miniconda3/envs/testbed/bin/pytest",
                                              "/opt/miniconda3/envs/testbed"]
    assert "testbed  /opt/miniconda3/envs/testbed" in active.output
    assert missing.exit_code != 0 and "EnvironmentNameNotFound" in missing.output


def test_source_choice_finds_the_prebuilt_image(conda_image):
    inst, _, _ = conda_image
    client = docker.from_env()
    epoch = prebuilt.epoch_name(IID)
    assert prebuilt.find_prebuilt(inst, client, source="epoch") == epoch
    assert prebuilt.find_prebuilt(inst, client, source="auto") == epoch  # swebench's names are absent
    assert prebuilt.find_prebuilt(inst, client, source="swebench") is None
    assert prebuilt.find_prebuilt(inst, client, source="local") is None


def test_fixture_verifies_through_the_prebuilt_image(conda_image, tmp_path):
    inst, _, _ = conda_image
    with Verifier(inst, pool_size=1, limits=LIMITS, use_prebuilt="epoch", log_dir=tmp_path) as v:
        assert v.ensure_image() == prebuilt.epoch_name(IID)
        gold, empty = v.verify(inst.patch), v.verify("")
    assert gold.status == "resolved", (gold, Path(gold.log_path).read_text()[-2000:])
    assert gold.fail_to_pass["success"] == inst.FAIL_TO_PASS and gold.pass_to_pass["failure"] == []
    assert empty.status == "not_resolved" and empty.fail_to_pass["failure"]  # stop-at-first-failure may
    assert empty.fail_to_pass["failure"] + empty.fail_to_pass.get("not_run", []) == inst.FAIL_TO_PASS  # not reach all


def test_swebench5_row_runs_its_own_eval_script(conda_image, tmp_path):
    """A 5.x row (image, eval_script, log_parser, JSON-encoded test lists) is judged by its script."""
    inst, tag, mirror = conda_image
    test_cmd = "pytest -rA -p no:cacheprovider tests/test_ops.py"
    row = {**inst.model_dump(exclude={"install", "image", "eval_script", "log_parser"}),
           "FAIL_TO_PASS": json.dumps(inst.FAIL_TO_PASS), "PASS_TO_PASS": json.dumps(inst.PASS_TO_PASS),
           "image": tag, "eval_script": official_eval_sh(inst, test_cmd), "log_parser": "parse_log_pytest",
           "eval_type": "pass_and_fail"}
    five = SWEInstance.model_validate(row)
    with Verifier(five, pool_size=1, limits=LIMITS, log_dir=tmp_path) as v:
        assert v.ensure_image() == tag  # the row's image comes first
        gold, empty = v.verify(five.patch), v.verify("")
        broken = v.verify(make_patch(mirror, {GOLD_EDIT[0]: gold_source().replace("a + b", "a - b")}))
    log = Path(gold.log_path).read_text()
    assert gold.status == "resolved" and gold.apply_method == "git-apply", (gold, log[-2000:])
    # the row's steps ran (xtrace'd), its test command asked for pytest's JUnit report as ours is
    assert "+ git apply -v -" in log and "+ pytest --junitxml=" in log and f" {test_cmd[7:]}\n" in log
    assert gold.tests and Path(gold.log_path).with_suffix(".junit.xml").exists()
    assert f"+ git checkout {inst.base_commit} tests/test_ops.py" in log.split(">>>>> End Test Output")[1]
    assert empty.status == "not_resolved" and empty.fail_to_pass["failure"] == inst.FAIL_TO_PASS
    assert broken.status == "not_resolved" and "tests/test_ops.py::test_add" in broken.pass_to_pass["failure"]


def test_cli_image_source(conda_image, tmp_path):
    """`monkeys-swe verify --image-source epoch` as a user runs it: no mirror is needed."""
    inst, _, _ = conda_image
    data = tmp_path / "data.jsonl"
    data.write_text(inst.model_dump_json(exclude_none=True) + "\n")
    report = tmp_path / "report.json"
    out = subprocess.run([sys.executable, "-m", "monkeys_swe", "verify", "--gold", "--instance", IID,
                          "--data", str(data), "--image-source", "epoch", "--report", str(report),
                          "--timeout", "90"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    entry = json.loads(report.read_text())["instances"][IID]
    assert entry["image"] == prebuilt.epoch_name(IID) and entry["resolved"] == 1
    bad = subprocess.run([sys.executable, "-m", "monkeys_swe", "verify", "--gold", "--instance", IID,
                          "--data", str(data), "--image-source", "dockerhub"], capture_output=True, text=True)
    assert bad.returncode != 0 and "dockerhub" in bad.stderr
