"""Files a size-limited mirror lacks: named, filled from the project's source releases (served
by a real HTTP index on 127.0.0.1), never written into the mirror; CPython sources for the
Pythons no Debian suite has; and pip standing in for uv on those Pythons. No Docker here."""
from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness import base_images, blobs, repos
from harness.env import script

BIG = b"IERS table, the version at the commit\n" * 50


def _git(cwd: Path, *args: str, env: dict | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}).stdout.strip()


@pytest.fixture
def mirror(tmp_path) -> tuple[Path, str]:
    """DIR/astropy__astropy: a repository whose commit's big file has no object (as in the
    snapshots brought here, which drop blobs of 4 MiB and more)."""
    repo = tmp_path / "mirrors" / "astropy__astropy"
    (repo / "data").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "setup.py").write_text("print('hi')\n")
    (repo / "data" / "eopc04.1962-now").write_bytes(BIG)
    _git(repo, "add", "-A")
    date = {"GIT_AUTHOR_DATE": "2023-03-01T12:00:00Z", "GIT_COMMITTER_DATE": "2023-03-01T12:00:00Z"}
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c", env=date)
    sha = blobs.blob_sha(BIG)
    (repo / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    return repo, _git(repo, "rev-parse", "HEAD")


def _sdist(name: str, version: str, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{name}-{version}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def index(tmp_path, monkeypatch):
    """A PEP 691 simple index on 127.0.0.1: `index(releases)` serves {version: (upload time, files)}."""
    served: dict[str, bytes] = {}
    page: dict[str, list] = {"files": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path.rstrip("/") == "/simple/astropy":
                body, kind = json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json"
            elif self.path in served:
                body, kind = served[self.path], "application/octet-stream"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("MONKEYS_SWE_INDEX_URL", f"{base}/simple")
    monkeypatch.setattr(blobs, "SDISTS", tmp_path / "sdists")

    def serve(releases: dict[str, tuple[str, dict[str, bytes]]]):
        for version, (uploaded, files) in releases.items():
            name = f"astropy-{version}.tar.gz"
            served[f"/files/{name}"] = _sdist("astropy", version, files)
            page["files"].append({"filename": name, "url": f"{base}/files/{name}", "upload-time": uploaded})
    yield serve
    server.shutdown()


def _member(tar_bytes: bytes, path: str) -> bytes | None:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        names = tar.getnames()
        return tar.extractfile(path).read() if path in names else None


def test_a_missing_blob_is_named(mirror):
    repo, commit = mirror
    assert repos.missing_files(repo, commit) == ["data/eopc04.1962-now"]
    with pytest.raises(repos.RepoError, match="lacks the content of data/eopc04.1962-now"):
        repos.archive(repo, commit)


def test_filled_from_the_release_with_the_exact_blob(mirror, index):
    repo, commit = mirror
    index({"1.0": ("2022-01-01T00:00:00Z", {"data/eopc04.1962-now": b"older table\n", "setup.py": b""}),
           "2.0": ("2023-04-01T00:00:00Z", {"data/eopc04.1962-now": b"newer table\n"}),
           "2.1": ("2023-05-01T00:00:00Z", {"data/eopc04.1962-now": BIG})})
    tar, notes = blobs.archive_filled("astropy/astropy", repo, commit)
    assert _member(tar, "data/eopc04.1962-now") == BIG and _member(tar, "setup.py") == b"print('hi')\n"
    assert len(notes) == 1 and "exact copy from astropy-2.1.tar.gz" in notes[0]
    # the mirror itself was not written: its copy still lacks the blob
    assert repos.missing_files(repo, commit) == ["data/eopc04.1962-now"]


def test_without_an_exact_copy_the_nearest_later_release_fills_and_says_so(mirror, index):
    repo, commit = mirror
    index({"1.0": ("2022-01-01T00:00:00Z", {"data/eopc04.1962-now": b"older table\n"}),
           "0.9.9": ("2023-03-15T00:00:00Z", {"data/eopc04.1962-now": b"a backport, not new\n"}),
           "2.0": ("2023-04-01T00:00:00Z", {"data/eopc04.1962-now": b"newer table\n"})})
    tar, notes = blobs.archive_filled("astropy/astropy", repo, commit)
    assert _member(tar, "data/eopc04.1962-now") == b"newer table\n"
    assert "nearest copy from astropy-2.0.tar.gz" in notes[0] and blobs.blob_sha(BIG)[:12] in notes[0]


def test_no_release_ships_it_or_not_a_known_project(mirror, index):
    repo, commit = mirror
    index({"2.0": ("2023-04-01T00:00:00Z", {"setup.py": b""})})
    with pytest.raises(repos.RepoError, match="eopc04.1962-now at .* no astropy source release ships it"):
        blobs.archive_filled("astropy/astropy", repo, commit)
    # a user's own repository is never filled from a package that merely shares its name
    with pytest.raises(repos.RepoError, match="lacks the content of data/eopc04.1962-now"):
        blobs.archive_filled("someone/astropy", repo, commit)


def test_cpython_source_is_the_newest_patch_release_in_the_mirror(tmp_path):
    snake = tmp_path / "deadsnakes__python3.6"
    snake.mkdir()
    _git(snake, "init", "-q")
    (snake / "configure").write_text("#!/bin/sh\n")
    _git(snake, "add", "-A")
    _git(snake, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    for tag in ("upstream/3.6.2", "upstream/3.6.9", "upstream/3.6.15", "upstream/3.7.1", "upstream/3.6.15rc1"):
        _git(snake, "tag", tag)
    assert base_images.cpython_source("3.6", tmp_path) == (snake, "upstream/3.6.15")
    assert base_images.cpython_source("3.5", tmp_path) is None


def test_pythons_uv_cannot_run_install_with_pip(tmp_path):
    """uv refuses Python < 3.8: there `uv_dated` is pip (uv-only options dropped, no date)."""
    assert script.legacy("3.6") and script.legacy("3.7") and not script.legacy("3.8") and not script.legacy(None)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\n")
    (fake / "python").chmod(0o755)
    prelude = script.prelude("2017-12-07T00:00:00Z", ["numpy==1.16.0"], python="3.6")
    body = prelude.replace(script.ENV_DIR, str(tmp_path)) + "uv_dated -C editable_mode=compat -e '.[test]'\n"
    subprocess.run(["bash", "-c", body], check=True, env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert (tmp_path / "args").read_text().split() == ["-m", "pip", "install", "-e", ".[test]"]
    assert "uv does not run Python 3.6" in (tmp_path / "exclude-newer").read_text()
    env = script.env_script(date=None, requirements=False, packages=["setuptools==38.2.4"], pins=[],
                            pre_install=[], install="python -m pip install -e .", needs_pytest=False,
                            python="3.6")
    assert "pip install -U 'pip<22'" in env and "uv_dated setuptools wheel" not in env
