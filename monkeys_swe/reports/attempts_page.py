"""A browsable run: one self-contained HTML page with every problem and attempt of a run.

The run is embedded in two blocks: a small JSON index (problems, and one short row per attempt:
problem, index, status, extracted answer, tokens) read when the page opens, and the details
(prompts, completions or diffs, verdict details, log excerpts, agent trajectories), deflated and
base64-encoded in blocks of 100 attempts after the script; opening an attempt inflates its block. attempts_page.js renders only the visible page of each list (100 rows),
so a run of 10,000 attempts opens as fast as a small one (benchmarks/html_view.py). The page's
state (filters, page, open attempt) lives in the URL's #hash: a link opens the same view.
"""
from __future__ import annotations

import base64
import html
import json
import zlib
from pathlib import Path
from typing import Any

from monkeys_swe.store import Store

TEXT_CHARS = 20_000  # per completion or diff shown; longer ones are cut in the middle
LOG_LINES, LOG_CHARS = 80, 6_000  # log excerpt: the last lines of the verifier's log
STEP_CHARS = 3_000  # per field of an agent step (thought, command, output)
ATTEMPT_CHUNK, PROMPT_CHUNK = 100, 50  # details per compressed block
UNVERIFIED = "unverified"
_HERE = Path(__file__).parent


def clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters not shown ...]\n{text[-half:]}"


def log_excerpt(detail: dict[str, Any]) -> str | None:
    """The end of the verifier's log file when the verdict names one, else its error text."""
    path = detail.get("log_path")
    if isinstance(path, str) and path:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()[-LOG_LINES:]
            return f"{path} (last {len(lines)} lines)\n" + clip("\n".join(lines), LOG_CHARS)
        except OSError:
            pass
    for key in ("traceback", "stderr", "error", "log"):
        if isinstance(detail.get(key), str) and detail[key].strip():
            return clip(detail[key], LOG_CHARS)
    return None


def _short_detail(detail: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in detail.items():
        if k in ("traceback", "patch"):
            continue  # shown as the log excerpt and the diff
        out[k] = clip(v, 400) if isinstance(v, str) else v
    return json.loads(json.dumps(out, default=str))


def _prompt_text(task: Any, problem: Any) -> str:
    try:
        messages = task.messages(problem)
    except Exception:  # a task that cannot build this prompt any more: the question is still useful
        return problem.question
    return "\n\n".join(f"[{m.get('role', '?')}]\n{m.get('content', '')}" for m in messages)


def _task(config: dict[str, Any]) -> Any:
    try:
        from monkeys_swe.registry import task_class

        return task_class(config["task"])(**(config.get("task_args") or {}))
    except Exception:  # an unknown task or setting: prompts fall back to the questions
        return None


def _trajectories(run_dir: Path) -> dict[tuple[str, int], dict[str, Any]]:
    from monkeys_swe.trajectories import TrajectoryStore, has_trajectories

    if not has_trajectories(run_dir):
        return {}
    ts = TrajectoryStore(run_dir)
    try:
        out = {}
        for pid, idx in ts.keys():
            t = ts.load(pid, idx)
            if t is None:
                continue
            out[(pid, idx)] = {
                "exit": t.exit_status or "unfinished (cut short)", "diff": clip(t.diff, TEXT_CHARS),
                "steps": [{"step": s.step, "kind": s.kind, "thought": clip(s.thought, STEP_CHARS),
                           "command": clip(s.command, STEP_CHARS), "output": clip(s.output, STEP_CHARS),
                           "exit_code": s.exit_code, "timed_out": s.timed_out,
                           "reply": clip(s.reply, STEP_CHARS) if s.kind == "format_error" else None,
                           "tokens": s.prompt_tokens + s.completion_tokens, "model_s": round(s.model_s, 2),
                           "exec_s": round(s.exec_s, 2)} for s in t.steps],
            }
        return out
    finally:
        ts.close()


def page_data(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(index, details) of a run: what the page reads when it opens, and on the first attempt opened."""
    run_dir = Path(run_dir)
    store = Store(run_dir, create=False)
    try:
        config = store.get_meta("config") or {}
        problems = store.problems()
        verdicts = {(pid, idx): v for pid, idx, v in store.verdicts()}
        samples = store.samples()
    finally:
        store.close()
    task = _task(config)
    trajectories = _trajectories(run_dir)
    position = {p.id: i for i, p in enumerate(problems)}
    statuses: list[str] = []
    rows, details = [], []
    for s in samples:
        if s.problem_id not in position:
            continue
        v = verdicts.get((s.problem_id, s.index))
        status = v.status if v is not None else UNVERIFIED
        if status not in statuses:
            statuses.append(status)
        detail = v.detail if v is not None else {}
        traj = trajectories.get((s.problem_id, s.index))
        diff = detail.get("patch") if isinstance(detail.get("patch"), str) else (traj or {}).get("diff")
        rows.append([position[s.problem_id], s.index, statuses.index(status), int(bool(v and v.correct)),
                     clip(v.answer, 80) if v is not None and v.answer is not None else None, s.completion_tokens])
        details.append({"text": clip(s.text, TEXT_CHARS), "diff": clip(diff, TEXT_CHARS),
                        "answer": v.answer if v is not None else None,
                        "detail": _short_detail(detail), "log": log_excerpt(detail), "trajectory": traj,
                        "seed": s.seed, "latency_s": round(s.latency_s, 3), "finish": s.finish_reason,
                        "tokens": [s.prompt_tokens, s.completion_tokens]})
    index = {
        "run": {"id": run_dir.name, "task": config.get("task"), "samples": config.get("samples"),
                "model": config.get("model_name") or config.get("model") or config.get("backend"),
                "temperature": config.get("temperature")},
        "statuses": statuses,
        "problems": [[p.id, clip(p.answer, 200)] for p in problems],
        "attempts": rows,
    }
    prompts = [clip(_prompt_text(task, p) if task is not None else p.question, TEXT_CHARS) for p in problems]
    return index, {"attempts": details, "prompts": prompts}


def _embed(obj: Any) -> str:
    """JSON for a <script type=application/json> block: no '<' can end the block early."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


def _packed(obj: Any) -> str:
    """JSON, deflated (raw) and base64-encoded: the details are read by the browser's DecompressionStream
    only when an attempt is opened, and the page holds 3-5x fewer bytes to read and parse on open."""
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    pack = zlib.compressobj(6, zlib.DEFLATED, -15)
    return base64.b64encode(pack.compress(raw) + pack.flush()).decode("ascii")


def render_page(index: dict[str, Any], details: dict[str, Any], title: str) -> str:
    """The page: the index, the script (it renders before the details are even parsed), then the details
    in chunks (ATTEMPT_CHUNK attempts, PROMPT_CHUNK prompts each): opening an attempt inflates one of each."""
    style = (_HERE / "attempts_page.css").read_text(encoding="utf-8")
    script = (_HERE / "attempts_page.js").read_text(encoding="utf-8")
    index = {**index, "chunks": {"attempts": ATTEMPT_CHUNK, "prompts": PROMPT_CHUNK}}
    blocks = []
    for prefix, rows, size in (("a", details["attempts"], ATTEMPT_CHUNK), ("p", details["prompts"], PROMPT_CHUNK)):
        for k in range(0, len(rows), size):
            blocks.append(f"<script type='application/octet-stream' id='{prefix}{k // size}'>{_packed(rows[k:k + size])}</script>")
    return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{style}</style></head><body>\n"
            f"<header id='head'></header><nav id='controls'></nav>"
            f"<main><section id='problems'></section><section id='attempts'></section>"
            f"<section id='detail'><p class='hint'>Open an attempt to read it.</p></section></main>\n"
            f"<script type='application/json' id='index'>{_embed(index)}</script>\n"
            f"<script>{script}</script>\n" + "\n".join(blocks) + "\n</body></html>\n")


def write_attempts_page(run_dir: str | Path, out: str | Path) -> Path:
    """Write the browsable page of a run to `out` (creating its directory); returns `out`."""
    index, details = page_data(run_dir)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(render_page(index, details, f"Attempts of {Path(run_dir).name}"), encoding="utf-8")
    tmp.replace(out)
    return out
