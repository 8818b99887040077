"""The browsable run page (monkeys-swe view / report --html) of a 10,000-attempt run, in headless Chromium.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/html_view.py [--problems 100] [--samples 100] [--repeats 3]

Builds a run of PROBLEMS x SAMPLES attempts (real GSM8K questions when ../shared/data has them;
synthetic store rows written through monkeys_swe.store: completions of 0.5-2 kB, statuses
correct / incorrect / no_answer / error with tracebacks), writes its page, and opens it in
headless Chromium next to a baseline measured in the same run: an empty page. Per page and
repeat, two figures: the wall seconds of `chromium --dump-dom` (browser start included) and the
page's own open time (performance.now() when its first render is done, from navigation start).
Also: the page opened on one attempt (its details parsed at that moment), and a status filter
applied after opening (milliseconds for the re-render). Target: the page opens in under 2 s.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monkeys_swe.reports.attempts_page import write_attempts_page  # noqa: E402
from monkeys_swe.store import Store  # noqa: E402
from monkeys_swe.types import Problem, Sample, Verdict  # noqa: E402
from tests.browser import CHROME_FLAGS, chromium  # noqa: E402

GSM8K = ROOT.parent / "shared" / "data" / "gsm8k" / "test.jsonl"
# Appended to a copy of each page: its figures, logged to the browser's console (read from stderr).
PROBE = """<script>
window.addEventListener("load", () => {
  const marks = {ready: +(document.body.dataset.readyMs || NaN), load: performance.now()};
  const report = () => console.log("MARKS " + JSON.stringify(marks));
  if (location.hash.includes("attempt=")) {  // wait for the details to be inflated and the attempt shown
    const poll = setInterval(() => {
      if (document.body.dataset.detailMs) { clearInterval(poll); marks.detail = +document.body.dataset.detailMs; report(); }
    }, 5);
    return;
  }
  if (document.getElementById("f-status")) {  // the page's own hashchange handler, run synchronously
    const t0 = performance.now();
    history.replaceState(null, "", "#status=incorrect");
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    marks.filter = performance.now() - t0;
  }
  report();
});
</script>"""


def build_run(run_dir: Path, n_problems: int, n_samples: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    rows = [json.loads(line) for line in GSM8K.open()][:n_problems] if GSM8K.exists() else []
    problems = []
    for i in range(n_problems):
        row = rows[i] if i < len(rows) else {"question": f"Synthetic question {i}: " + "what is 6 x 7? " * 20,
                                             "answer": "... #### 42"}
        problems.append(Problem(f"gsm8k-{i}", row["question"], row["answer"].split("####")[-1].strip(), {}))
    store = Store(run_dir)
    store.set_meta("config", {"task": "gsm8k", "samples": n_samples, "backend": "llamacpp", "temperature": 0.6,
                              "model_name": "SmolLM2-135M-Instruct-Q8_0.gguf"})
    store.add_problems(problems)
    store.db.execute("BEGIN")
    for p in problems:
        for k in range(n_samples):
            steps = "\n".join(f"Step {j}: we compute {rng.randint(1, 999)} + {rng.randint(1, 999)} = {rng.randint(1, 2000)}."
                              for j in range(rng.randint(8, 40)))
            roll = rng.random()
            answer = p.answer if roll < 0.3 else str(rng.randint(1, 9999))
            text = f"{steps}\n#### {answer}" if roll < 0.9 else steps
            store.add_sample(Sample(p.id, k, text, 900, len(text) // 4, rng.randint(0, 2 ** 31), 0.5, "stop", {}))
            if roll < 0.3:
                v = Verdict(True, "correct", answer)
            elif roll < 0.88:
                v = Verdict(False, "incorrect", answer)
            elif roll < 0.9:
                v = Verdict(False, "error", answer, {"error": "TimeoutError: math-verify", "traceback": "Traceback ...\n" * 40})
            else:
                v = Verdict(False, "no_answer")
            store.add_verdict(p.id, k, v)
    store.db.execute("COMMIT")
    count = store.counts()["attempts"]
    store.close()
    return count


def open_page(page: Path, fragment: str, profile: Path, shot: Path) -> tuple[float, dict[str, float]]:
    """(wall seconds from starting chromium to its screenshot written, the page's own figures in ms)."""
    probe = page.with_name(f"probe-{page.name}")
    if not probe.exists():
        probe.write_text(page.read_text() + PROBE)
    t0 = time.perf_counter()
    proc = subprocess.run([chromium(), *CHROME_FLAGS, f"--user-data-dir={profile}", "--window-size=1400,900",
                           f"--screenshot={shot}", probe.as_uri() + fragment], capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    marks = re.search(r"MARKS (\{.*?\})", proc.stderr)
    if proc.returncode != 0 or not shot.exists() or marks is None:
        raise SystemExit(f"chromium failed on {probe}: {proc.stderr[-800:]}")
    return wall, json.loads(marks.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=100)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--screenshot", type=Path, help="Keep a screenshot of the page opened on an attempt here.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="html_view_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        attempts = build_run(tmp / "run", args.problems, args.samples)
        t1 = time.perf_counter()
        page = write_attempts_page(tmp / "run", tmp / "attempts.html")
        t2 = time.perf_counter()
        empty = tmp / "empty.html"
        empty.write_text("<!doctype html><html><body><script>document.body.setAttribute('data-ready-ms', "
                         "performance.now().toFixed(1))</script></body></html>")
        print(f"run: {attempts} attempts of {args.problems} problems (store written in {t1 - t0:.1f} s); "
              f"page {page.stat().st_size / 1e6:.1f} MB written in {t2 - t1:.1f} s")
        variants = {"empty": (empty, ""), "page": (page, "#"),
                    "attempt": (page, f"#attempt=gsm8k-{args.problems // 2}:{args.samples // 2}")}
        results: dict[str, list[tuple[float, dict[str, float]]]] = {k: [] for k in variants}
        for r in range(args.repeats):
            for name, (path, fragment) in variants.items():  # interleaved: machine load hits each alike
                results[name].append(open_page(path, fragment, tmp / f"profile-{name}-{r}", tmp / f"{name}-{r}.png"))
        if args.screenshot:
            args.screenshot.write_bytes((tmp / "attempt-0.png").read_bytes())
    med = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    mark = {k: {m: statistics.median(x[1].get(m, float("nan")) for x in v) / 1000 for m in ("ready", "load", "detail")}
            for k, v in results.items()}
    filter_ms = statistics.median(x[1].get("filter", float("nan")) for x in results["page"])
    print(f"headless chromium, median of {args.repeats}. wall: starting chromium to its screenshot written "
          "(browser start, load, layout, paint); open: navigation start to the page's first render done "
          "(its own performance.now()); load: to the load event (the whole file parsed)")
    for name, label in (("empty", "empty page (baseline)"), ("page", f"{attempts}-attempt page"),
                        ("attempt", "... opened on an attempt")):
        print(f"  {label:<26} wall {med[name]:5.2f} s   open {mark[name]['ready']:6.3f} s   load {mark[name]['load']:6.3f} s")
    print(f"  attempt shown (details inflated and parsed): {mark['attempt']['detail']:.3f} s after navigation start")
    print(f"  status filter after open: {filter_ms:.0f} ms to re-render")
    print(f"ratio page/empty: wall {med['page'] / med['empty']:.2f}x (+{med['page'] - med['empty']:.2f} s), "
          f"load {mark['page']['load'] / max(mark['empty']['load'], 1e-3):.1f}x")
    worst = max(mark["page"]["load"], mark["attempt"]["load"], mark["attempt"]["detail"])
    print(f"target: the page opens (load event, first render, an attempt shown) in under 2 s: {'met' if worst < 2 else 'NOT met'} "
          f"({worst:.2f} s); wall over the empty page: +{max(med['page'], med['attempt']) - med['empty']:.2f} s")

if __name__ == "__main__":
    main()
