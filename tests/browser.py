"""Headless Chromium (Debian's package; .ci/bootstrap installs it) for tests and benchmarks of HTML pages."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "headless Chromium is needed: apt-get install -y chromium (.ci/bootstrap installs it)"
    return found


CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--enable-logging=stderr", "--v=0"]


def chrome(profile: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """One headless Chromium run with its own profile directory; asserts it exited cleanly."""
    proc = subprocess.run([chromium(), *CHROME_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def dump_dom(url: str, profile: Path, *, budget_ms: int | None = 5000) -> tuple[str, str]:
    """The DOM after load (and after `budget_ms` of virtual time for timers and events); (dom, log)."""
    extra = [f"--virtual-time-budget={budget_ms}"] if budget_ms else []
    proc = chrome(profile, *extra, "--dump-dom", url)
    return proc.stdout, proc.stderr


def element_text(dom: str, element_id: str) -> str:
    """The visible text of the element with this id (up to the next top-level section), tags stripped."""
    m = re.search(rf"<(\w+)[^>]*\bid=\"{re.escape(element_id)}\"[^>]*>(.*?)</\1>\s*(?:<section|<script|</main)", dom, re.S)
    assert m, f"no element #{element_id} in the page"
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(2)))


def attr(dom: str, name: str) -> str:
    m = re.search(rf'\b{re.escape(name)}="([^"]*)"', dom)
    assert m, f"no {name} attribute in the page"
    return html.unescape(m.group(1))
