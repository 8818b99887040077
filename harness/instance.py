"""Task instances in SWE-bench's schema, plus the overrides our image builder understands.

A row from SWE-bench (2024 12-field format, or 5.x rows with extra fields) loads as is;
FAIL_TO_PASS / PASS_TO_PASS may be JSON-encoded strings. Optional overrides let a user
(or a fixture) say how to install and test a repository that swebench knows nothing of.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Iterable
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, field_validator

from harness.records import RecordsError, read_json_records


class DataError(ValueError):
    """Input data that cannot be used; the message names what to fix."""


class SWEInstance(BaseModel):
    model_config = ConfigDict(extra="ignore")

    instance_id: str
    repo: str  # "owner/name"; for local repos, the absolute path of the repository
    base_commit: str
    patch: str = ""  # the gold patch
    test_patch: str = ""
    FAIL_TO_PASS: list[str] = []
    PASS_TO_PASS: list[str] = []
    version: str = ""
    environment_setup_commit: str = ""
    problem_statement: str = ""
    hints_text: str = ""
    created_at: str = ""
    # Overrides (None: use the swebench-derived defaults in harness.specs).
    install: list[str] | None = None  # shell commands run in /testbed at image build
    test_cmd: str | None = None  # the full test command (no directives appended)
    test_files: list[str] | None = None  # files a candidate may not edit
    log_parser: str | None = None  # a name in swebench's PARSER_REGISTRY
    python: str | None = None  # wanted Python version, e.g. "3.11"
    image: str | None = None  # a prebuilt image (swebench 5.x rows carry one)
    eval_script: str | None = None  # swebench 5.x rows: the official eval.sh, run after our apply step
    repo_path: str | None = None  # local git repository to snapshot (custom instances)

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", "install", "test_files", mode="before")
    @classmethod
    def _json_list(cls, value):
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else []
        return value

    @property
    def grade_by_exit_code(self) -> bool:
        """Custom instances have no FAIL_TO_PASS lists: the test command's exit status decides."""
        return not self.FAIL_TO_PASS and not self.PASS_TO_PASS

    @classmethod
    def from_local_repo(cls, path: str | os.PathLike, test_cmd: str, *, install: Iterable[str] = (),
                        commit: str = "HEAD", instance_id: str | None = None,
                        problem_statement: str = "", log_parser: str | None = "parse_log_pytest",
                        test_files: list[str] | None = None) -> "SWEInstance":
        """A "custom repo" instance: the user's repository at `commit`, their install
        commands, and a test command whose exit status 0 means resolved."""
        path = Path(path).expanduser().resolve()
        try:
            sha = subprocess.run(["git", "-C", str(path), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            raise DataError(f"{path} is not a git repository with commit {commit!r}") from exc
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", path.name).lower() or "repo"
        return cls(instance_id=instance_id or f"local__{name}-{sha[:10]}", repo=str(path),
                   repo_path=str(path), base_commit=sha, install=list(install), test_cmd=test_cmd,
                   problem_statement=problem_statement, log_parser=log_parser,
                   test_files=test_files)


DEFAULT_DATASET = "princeton-nlp/SWE-bench_Lite"  # where instances come from when no --data is given


def _read_rows(path: Path) -> list[dict]:
    try:
        return read_json_records(path)
    except RecordsError as exc:
        raise DataError(str(exc)) from exc


def _hub_reachable(timeout: float = 3.0) -> bool:
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=timeout).close()
        return True
    except OSError:
        return False


def _hf_rows(name: str, split: str) -> list[dict]:
    # Probe first: offline, datasets retries for half a minute before failing. With
    # HF_HUB_OFFLINE=1 set by the user, it reads its local cache instead.
    if os.environ.get("HF_HUB_OFFLINE") != "1" and not _hub_reachable():
        raise DataError(f"cannot reach Hugging Face to load {name!r}; pass a local SWE-bench "
                        f"JSONL with --data FILE (or set HF_HUB_OFFLINE=1 to use a cached copy)")
    try:
        import datasets

        return list(datasets.load_dataset(name, split=split))
    except Exception as exc:  # datasets raises many kinds; all mean "not reachable here"
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataError(f"cannot load Hugging Face dataset {name!r} ({first}); "
                        f"pass a local SWE-bench JSONL with --data FILE") from exc


def load_instances(path_or_hf_name: str | os.PathLike, ids: Iterable[str] | None = None,
                   *, split: str = "test") -> list[SWEInstance]:
    """Instances from a local .jsonl/.jsonl.gz/.json file or a Hugging Face dataset name,
    in file order, restricted to `ids` when given (every id must exist)."""
    path = Path(path_or_hf_name).expanduser()
    if not path.exists() and (path.suffix in (".jsonl", ".json", ".gz", ".parquet") or os.sep in str(path_or_hf_name)
                              and not re.fullmatch(r"[\w.-]+/[\w.-]+", str(path_or_hf_name))):
        raise DataError(f"data file not found: {path}")  # a path, not a Hugging Face name
    rows = _read_rows(path) if path.exists() else _hf_rows(str(path_or_hf_name), split)
    instances = []
    for n, r in enumerate(rows, 1):
        try:
            instances.append(SWEInstance.model_validate(r))
        except ValueError as exc:
            errors = getattr(exc, "errors", lambda: [])()
            first = (f"{'.'.join(map(str, errors[0]['loc']))}: {errors[0]['msg']}" if errors
                     else str(exc).splitlines()[0])
            keys = f" (its fields: {', '.join(sorted(r)[:8])})" if isinstance(r, dict) else ""
            err = DataError(f"{path_or_hf_name}: row {n} is not a SWE-bench instance: {first}{keys}")
            err.row = r
            raise err from None
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        by_id = {i.instance_id: i for i in instances}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise DataError(f"instance ids not in {path_or_hf_name}: {', '.join(missing[:5])}")
        instances = [by_id[i] for i in wanted]
    return instances
