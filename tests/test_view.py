"""The browsable run page, opened in real headless Chromium: a real (replayed) run, with one agent
trajectory and one verifier error stored through the run's own stores, filtered, clicked and read."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from monkeys_swe.store import Store
from monkeys_swe.trajectories import Step, TrajectoryStore
from monkeys_swe.types import Verdict
from tests.browser import attr, chrome, dump_dom, element_text
from tests.conftest import cli
from tests.test_choose import write_replay

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def page(tmp_path_factory, data_dir) -> Path:
    tmp = tmp_path_factory.mktemp("view")
    write_replay(tmp / "s.json", data_dir, 4)  # per problem: the right answer, then "#### 999999"
    runs = tmp / "runs"
    cli("bench", "gsm8k", "--data", str(data_dir / "gsm8k/test.jsonl"), "--limit", "4", "--samples", "2",
        "--backend", "replay", "--replay-from", str(tmp / "s.json"), "--runs-dir", str(runs), "--no-report", check=True)
    (run,) = runs.iterdir()
    log = tmp / "verify.log"
    log.write_text("".join(f"collecting line {i}\n" for i in range(200)) + "E   AssertionError: 41 != 42\n")
    store = Store(run)
    store.add_verdict("gsm8k-3", 1, Verdict(False, "error", None, {"error": "sandbox died", "log_path": str(log)}))
    store.close()
    traj = TrajectoryStore(run)  # an agent attempt's steps, as the agent loop writes them
    traj.start("gsm8k-2", 1, 7, [{"role": "user", "content": "fix it"}])
    traj.add_step("gsm8k-2", 1, Step(0, "command", "look first\n```bash\nls -la src\n```", thought="look first",
                                     command="ls -la src", output="total 8\nmain.py", exit_code=0, observation="ok"))
    traj.add_step("gsm8k-2", 1, Step(1, "submit", "done", command="submit", output="", exit_code=0))
    traj.finish("gsm8k-2", 1, "submitted", "diff --git a/main.py b/main.py\n+print(42)\n", {})
    traj.close()
    proc = cli("report", str(run), "--html", check=True)  # report --html writes the page too
    html_page = run / "report" / "attempts.html"
    assert html_page.exists(), proc.stdout
    viewed = cli("view", str(run), "--out", str(tmp / "view.html"), check=True)
    assert str(tmp / "view.html") in viewed.stdout and (tmp / "view.html").read_text() == html_page.read_text()
    return html_page


def test_filter_by_status_and_open_an_attempt_from_the_url(page, tmp_path, data_dir):
    dom, log = dump_dom(page.as_uri() + "#status=incorrect&attempt=gsm8k-1:1", tmp_path / "p")
    assert attr(dom, "data-shown-attempts") == "3" and attr(dom, "data-shown-problems") == "3"  # gsm8k-3 #1: error
    rows = element_text(dom, "attempts")
    assert rows.count(" incorrect ") == 3 + 1 and " correct " not in rows  # 3 rows and the heading
    assert "gsm8k-3 #1" not in rows
    detail = element_text(dom, "detail")
    question = json.loads((data_dir / "gsm8k/test.jsonl").read_text().splitlines()[1])["question"]
    assert "gsm8k-1 · attempt 1" in detail and "#### 999999" in detail  # the completion
    assert question[:60] in detail and "Question: There are 15 trees" in detail  # the prompt, few-shot included
    answer = detail.split("extracted answer")[1].split("reference")
    assert answer[0].strip() == "999999" and answer[1].split()[0] == "3"  # gsm8k-1's reference is 3
    assert "Uncaught" not in log and "CONSOLE" not in log, log[-2000:]


def test_an_error_shows_its_log_excerpt_and_an_agent_attempt_its_trajectory(page, tmp_path):
    dom, _ = dump_dom(page.as_uri() + "#status=error&attempt=gsm8k-3:1", tmp_path / "p")
    assert attr(dom, "data-shown-attempts") == "1"
    detail = element_text(dom, "detail")
    assert "sandbox died" in detail and "E   AssertionError: 41 != 42" in detail and "collecting line 199" in detail
    assert "collecting line 100" not in detail  # an excerpt: the log's last lines only
    dom, _ = dump_dom(page.as_uri() + "#attempt=gsm8k-2:1", tmp_path / "p")
    detail = element_text(dom, "detail")
    assert "agent trajectory: 2 steps, exit submitted" in detail
    assert "$ ls -la src" in detail and "total 8" in detail and "+print(42)" in detail


def test_clicks_filter_and_open(page, tmp_path):
    """The page's own handlers: a status chip, the solved filter, an attempt row (clicked by a probe)."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text() + """<script>
window.addEventListener("load", async () => {
  const tick = () => new Promise((r) => setTimeout(r, 50)), out = [];
  document.querySelector('.chip[data-status="correct"]').click(); await tick();
  out.push(document.body.dataset.shownAttempts, location.hash);
  document.querySelectorAll("tr.arow")[2].click(); await tick();
  for (let i = 0; i < 100 && !document.querySelector("#detail h2"); i++) await tick();  // details inflate async
  out.push(document.querySelector("#detail h2").textContent);
  const solved = document.getElementById("f-solved");
  solved.value = "no"; solved.dispatchEvent(new Event("change")); await tick();
  out.push(document.body.dataset.shownProblems);
  solved.value = "yes"; solved.dispatchEvent(new Event("change")); await tick();
  document.querySelector('.chip[data-go]').click(); await tick();
  out.push(document.body.dataset.shownAttempts);
  document.body.setAttribute("data-probe", JSON.stringify(out));
});
</script>""")
    dom, log = dump_dom(probe.as_uri(), tmp_path / "p")
    shown, hash_, title, unsolved, everything = json.loads(attr(dom, "data-probe"))
    assert shown == "4" and hash_ == "#status=correct"
    assert title.startswith("gsm8k-2 · attempt 0")
    assert unsolved == "0"  # every problem has a right attempt
    assert everything == "8"  # solved problems, every status
    assert "Uncaught" not in log, log[-2000:]


def test_screenshot_of_the_page(page, tmp_path):
    shot = tmp_path / "page.png"
    chrome(tmp_path / "p", "--window-size=1400,900", f"--screenshot={shot}", page.as_uri() + "#attempt=gsm8k-2:1")
    assert shot.read_bytes()[:8] == PNG and shot.stat().st_size > 30_000  # a rendered page, not a blank one
    con = sqlite3.connect(page.parent.parent / "run.db")
    assert con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 8


def test_a_link_to_an_attempt_opens_its_page_of_the_list(tmp_path):
    from monkeys_swe.reports.attempts_page import write_attempts_page
    from monkeys_swe.types import Problem, Sample

    store = Store(tmp_path / "run")
    store.set_meta("config", {"task": "gsm8k", "samples": 100})
    store.add_problems([Problem(f"p{i}", f"question {i}", "7", {}) for i in range(3)])
    for i in range(3):
        for k in range(100):
            store.add_sample(Sample(f"p{i}", k, f"#### {k}", 1, 1, k, 0.1, "stop", {}))
            store.add_verdict(f"p{i}", k, Verdict(k == 7, "correct" if k == 7 else "incorrect", str(k)))
    store.close()
    page = write_attempts_page(tmp_path / "run", tmp_path / "a.html")
    dom, _ = dump_dom(page.as_uri() + "#attempt=p2:50", tmp_path / "p")
    assert "page 3 of 3" in element_text(dom, "attempts") and 'class="arow sel" data-attempt="p2:50"' in dom
    assert "p2 · attempt 50" in element_text(dom, "detail") and "question 2" in element_text(dom, "detail")
