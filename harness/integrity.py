"""What decides a grade must be the same after the run as before it.

The candidate's code runs as root in the sandbox, so it could rewrite a test file before the
runner collects it and restore it afterwards, drop a conftest.py into a directory the runner has
not reached yet, or patch the runner's code on disk. Three out-of-band checks make that visible:

- **Manifest.** Before the test command runs (no candidate code has run yet: applying a diff runs
  none), the eval script prints a manifest of the protected files: the instance's test files and
  every runner configuration and import-hook file in /testbed (harness.protect), each with its
  sha256, inode and ctime. Only the first manifest in the output counts (a candidate can print a
  fake one only after it). After the run, a separate exec (once every stray process is killed)
  prints the manifest again. Any difference, a protected file created or removed, is tampering.
  ctime cannot be set back by anyone, root included, so a rewrite that restores the content and
  the mtime still shows.
- **The engine's own diff.** `docker diff` of the sandbox, read from the host, lists every path
  the container changed; a change to the Python installation's code (site-packages, the standard
  library, *.pth) or to system binaries (the tools the checks themselves use) is tampering.
- **The runner's report** is read by that same separate exec, not from the log the candidate can
  print into (harness.runners cross-checks it against the log).
"""
from __future__ import annotations

import re
import shlex

from harness import protect

MANIFEST = ">>>>> Manifest:"
REPORT = ">>>>> Runner Report:"
_FIND_NAMES = sorted(protect.RUNNER_CONFIG | protect.IMPORT_HOOKS) + ["*.pth"]
_BEGIN, _END = f"{MANIFEST} begin", f"{MANIFEST} end"
_SHA = re.compile(r"^([0-9a-f]{64}|\S+)  (.+)$")
_STAT = re.compile(r"^stat (\d+) ([0-9.]+) (.+)$")
_ABSENT = re.compile(r"^absent (.+)$")


def manifest_script(files: list[str]) -> str:
    """Shell printing the manifest of `files` (paths in /testbed) and of every runner
    configuration and import-hook file found in /testbed: one `sha256sum` and one `stat` for
    all of them (a fixed handful of processes, whatever the count)."""
    names = " -o ".join(f"-name {shlex.quote(n)}" for n in _FIND_NAMES)
    listed = " ".join(shlex.quote(f) for f in files)
    return (f'echo "{_BEGIN}"\n'
            f"mapfile -t _mf < <({{ printf '%s\\n' {listed}; find . -path ./.git -prune -o \\( {names} \\) "
            "-type f -print | sed 's|^\\./||'; } | sort -u)\n"
            '_mh=(); for f in "${_mf[@]}"; do [ -n "$f" ] || continue; '
            'if [ -e "$f" ]; then _mh+=("$f"); else echo "absent $f"; fi; done\n'
            'if [ ${#_mh[@]} -gt 0 ]; then sha256sum -- "${_mh[@]}"; stat -c \'stat %i %.9Z %n\' -- "${_mh[@]}"; fi\n'
            f'echo "{_END}"\n')


def read_manifest(output: str) -> dict[str, tuple[str, str, str]] | None:
    """The first complete manifest in `output`: path -> (sha256, inode, ctime), ("absent", "-",
    "-") for a listed file that is not there; None when there is none."""
    start = output.find(_BEGIN)
    if start < 0:
        return None
    end = output.find(_END, start)
    if end < 0:
        return None
    shas, stats, out = {}, {}, {}
    for line in output[start + len(_BEGIN):end].splitlines():
        if m := _ABSENT.match(line):
            out[m.group(1)] = ("absent", "-", "-")
        elif m := _STAT.match(line):
            stats[m.group(3)] = (m.group(1), m.group(2))
        elif m := _SHA.match(line):
            shas[m.group(2)] = m.group(1)
    for path in set(shas) | set(stats):
        out[path] = (shas.get(path, "unreadable"), *stats.get(path, ("-", "-")))
    return out


def compare(before: dict | None, after: dict | None) -> list[str]:
    """Evidence that protected files changed during the run ([] when none)."""
    if before is None or after is None:
        return [] if before is None else ["the protected files could not be listed after the run"]
    out = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path), after.get(path)
        if a == b:
            continue
        if a is None or (a[0] == "absent" and b and b[0] != "absent"):
            out.append(f"{path} was created during the run")
        elif b is None or b[0] == "absent":
            out.append(f"{path} was removed during the run")
        elif a[0] != b[0]:
            out.append(f"{path} was modified during the run")
        else:
            out.append(f"{path} was rewritten during the run (content restored; inode/ctime changed)")
    return out


# Paths whose change during a run means the runner, the interpreter or the checking tools were
# edited: Python code of the installation (not /testbed), path hooks, and system binaries.
_PY_HOME = re.compile(r"^/(usr|opt|root/\.local|usr/local)/.*?/(site|dist)-packages/|^/usr(/local)?/lib/python[0-9.]+/"
                      r"|^/opt/[^/]+/lib/python[0-9.]+/|^/opt/miniconda3/")
_BINARIES = re.compile(r"^/(usr/)?(local/)?s?bin/|^/opt/venv/bin/|^/(usr/)?lib(64|32)?/[^/]*-linux-gnu/lib[^/]*\.so")
_CODE = re.compile(r"\.(py|pth|so|pyd)$|/(sitecustomize|usercustomize)\.py$")
# What the engine itself puts into every container (the init process binds in as a file).
ENGINE_PATHS = {"/usr/sbin/docker-init", "/sbin/docker-init", "/dev/init", "/run/podman-init", "/usr/libexec/podman/catatonit"}


def suspicious(changes: list[dict] | None) -> list[str]:
    """From the engine's diff of the sandbox ([{"Path": ..., "Kind": 0|1|2}]), the changes to
    the interpreter's code or to system binaries."""
    kinds = {0: "changed", 1: "added", 2: "deleted"}
    out = []
    for change in changes or []:
        path = change.get("Path", "")
        if path in ENGINE_PATHS or "/__pycache__/" in path or path.startswith(("/testbed/", "/tmp/", "/proc/", "/dev/", "/run/")):
            continue
        if (_PY_HOME.search(path) and _CODE.search(path)) or (_BINARIES.search(path) and change.get("Kind") != 2
                                                             and not path.endswith("/")):
            out.append(f"{path} {kinds.get(change.get('Kind'), 'changed')} during the run")
    return out
