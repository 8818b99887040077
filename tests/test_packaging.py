"""A wheel install (not editable, not run from the checkout) still knows the model table:
a report shows FLOPs and dollars. The wheel is built from this tree and installed into a fresh
venv; the dependencies come from the test venv's site-packages (a path entry, so its editable
install of monkeys_swe is not picked up)."""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.test_report import make_run


def test_wheel_install_reports_flops_and_dollars(tmp_path):
    src, wheels = tmp_path / "src", tmp_path / "wheels"  # a copy: the build writes build/ next to the sources
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("monkeys_swe", "harness"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(wheels)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("monkeys_swe-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=300)

    run = make_run(tmp_path / "run", {"a": [("7", True), ("3", False)], "b": [("1", False), ("7", True)]},
                   model="deepseek-ai/DeepSeek-Coder-V2-Instruct", prompt_tokens=1000, completion_tokens=500)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONKEYS_SWE_", "PYTHON"))}
    proc = subprocess.run([str(python), "-m", "monkeys_swe", "report", str(run)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    where = subprocess.run([str(python), "-c", "import monkeys_swe; print(monkeys_swe.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True).stdout
    assert where.startswith(purelib)  # the installed copy, not the checkout
    summary = json.loads((run / "report" / "summary.json").read_text())
    # 2000 prompt + 2000 completion tokens at $0.14 / $0.28 per million
    assert summary["dollars"] == 2000 * 0.14e-6 + 2000 * 0.28e-6 and summary["flops"] > 0
    assert "FLOPs" in proc.stdout and "$0.00084" in proc.stdout
