// The attempts page (attempts_page.py): filters, paged lists and one attempt's details.
// State lives in location.hash (status, solved, q, problem, attempt, page, ppage), so a link
// reopens the same view and a headless browser can be driven by the URL alone.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("index").textContent);
  // details: compressed blocks after this script, inflated and parsed on the first attempt opened in each
  const done = new Map(), pending = new Map();
  const parsed = new Promise((ok) => document.readyState === "loading"
    ? document.addEventListener("DOMContentLoaded", ok) : ok());
  function need(id) {
    if (!pending.has(id)) pending.set(id, parsed.then(() => {
      const bin = atob(document.getElementById(id).textContent.trim()), bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
      return new Response(stream).text();
    }).then((text) => { done.set(id, JSON.parse(text)); }));
    return pending.get(id);
  }
  const PAGE = 100, PPAGE = 50;
  const P = D.problems, A = D.attempts, S = D.statuses;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  // per problem: its attempts (indices into A), counts by status, solved
  const byProblem = P.map(() => []);
  const counts = P.map(() => new Array(S.length).fill(0));
  const solved = new Uint8Array(P.length);
  const total = new Array(S.length).fill(0);
  A.forEach((a, i) => {
    byProblem[a[0]].push(i); counts[a[0]][a[2]]++; total[a[2]]++;
    if (a[3]) solved[a[0]] = 1;
  });
  const pidIndex = new Map(P.map((p, i) => [p[0], i]));

  function state() {
    const h = new URLSearchParams(location.hash.slice(1));
    return { status: h.get("status") || "", solved: h.get("solved") || "", q: h.get("q") || "",
             problem: h.get("problem") || "", attempt: h.get("attempt") || "",
             page: +h.get("page") || 0, ppage: +h.get("ppage") || 0 };
  }
  function go(change) {
    const s = Object.assign(state(), change);
    const h = new URLSearchParams();
    for (const [k, v] of Object.entries(s)) if (v !== "" && v !== 0) h.set(k, v);
    location.hash = h.toString();
  }
  function matcher(q) {
    if (!q) return () => true;
    try { const re = new RegExp(q, "i"); return (id) => re.test(id); }
    catch (e) { const l = q.toLowerCase(); return (id) => id.toLowerCase().includes(l); }
  }
  const badge = (si) => `<span class="st st-${esc(S[si])}">${esc(S[si])}</span>`;
  function pager(n, size, page, key) {
    const pages = Math.max(1, Math.ceil(n / size));
    return `<div class="pager"><button data-go='${JSON.stringify({ [key]: page - 1 })}' ${page <= 0 ? "disabled" : ""}>&larr;</button>` +
      ` page ${page + 1} of ${pages} <button data-go='${JSON.stringify({ [key]: page + 1 })}' ${page + 1 >= pages ? "disabled" : ""}>&rarr;</button></div>`;
  }

  let first = true;
  function render() {
    const s = state();
    const si = s.status ? S.indexOf(s.status) : -1;
    const idOk = matcher(s.q);
    // problems shown: id filter, solved filter, and (with a status) holding an attempt of it
    const probs = [];
    for (let i = 0; i < P.length; i++) {
      if (!idOk(P[i][0])) continue;
      if (s.solved === "yes" && !solved[i]) continue;
      if (s.solved === "no" && solved[i]) continue;
      if (si >= 0 && !counts[i][si]) continue;
      probs.push(i);
    }
    const chosen = s.problem ? pidIndex.get(s.problem) : undefined;
    const atts = [];
    for (const i of chosen !== undefined ? [chosen] : probs)
      for (const a of byProblem[i]) if (si < 0 || A[a][2] === si) atts.push(a);

    const solvedN = solved.reduce((x, y) => x + y, 0);
    $("head").innerHTML = `<h1>${esc(D.run.id)}</h1><p>${esc(D.run.task)} · ${esc(D.run.model)} · ` +
      `${A.length} attempts of ${P.length} problems (n=${esc(D.run.samples)}, T=${esc(D.run.temperature)}) · ` +
      `solved ${solvedN}/${P.length}</p><p class="chips">` +
      `<button class="chip ${si < 0 ? "on" : ""}" data-go='{"status":"","page":0,"ppage":0}'>all ${A.length}</button>` +
      S.map((name, k) => `<button class="chip st-${esc(name)} ${k === si ? "on" : ""}" data-status="${esc(name)}">` +
        `${esc(name)} ${total[k]}</button>`).join("") + "</p>";

    const ctl = $("controls");
    if (!ctl.firstChild) {
      ctl.innerHTML = `<label>status <select id="f-status"><option value="">all</option>` +
        S.map((name) => `<option>${esc(name)}</option>`).join("") + `</select></label>` +
        `<label>problems <select id="f-solved"><option value="">all</option><option value="yes">solved</option>` +
        `<option value="no">unsolved</option></select></label>` +
        `<label>id <input id="f-q" placeholder="text or regex" size="24"></label>`;
      $("f-status").onchange = (e) => go({ status: e.target.value, page: 0, ppage: 0 });
      $("f-solved").onchange = (e) => go({ solved: e.target.value, page: 0, ppage: 0 });
      $("f-q").oninput = (e) => go({ q: e.target.value, page: 0, ppage: 0, problem: "" });
    }
    $("f-status").value = s.status; $("f-solved").value = s.solved;
    if (document.activeElement !== $("f-q")) $("f-q").value = s.q;

    const pp = Math.min(s.ppage, Math.max(0, Math.ceil(probs.length / PPAGE) - 1));
    $("problems").innerHTML = `<h2>Problems <small>${probs.length}</small></h2>` +
      (s.problem ? `<button data-go='{"problem":"","page":0}'>all problems</button>` : "") +
      `<table><tbody>` + probs.slice(pp * PPAGE, pp * PPAGE + PPAGE).map((i) =>
        `<tr class="prow ${P[i][0] === s.problem ? "sel" : ""}" data-problem="${esc(P[i][0])}">` +
        `<td>${solved[i] ? "<b class='ok'>✓</b>" : "<b class='no'>·</b>"}</td><td class="id">${esc(P[i][0])}</td>` +
        `<td>${counts[i].map((c, k) => c ? `${badge(k)}${c}` : "").join(" ")}</td></tr>`).join("") +
      `</tbody></table>` + pager(probs.length, PPAGE, pp, "ppage");

    let page = Math.min(s.page, Math.max(0, Math.ceil(atts.length / PAGE) - 1));
    if (first && s.attempt && !s.page) {  // a link to an attempt opens the list at its page
      const at = atts.findIndex((a) => `${P[A[a][0]][0]}:${A[a][1]}` === s.attempt);
      if (at >= 0) page = Math.floor(at / PAGE);
    }
    first = false;
    $("attempts").innerHTML = `<h2>Attempts <small>${atts.length}${s.problem ? " of " + esc(s.problem) : ""}` +
      `${si >= 0 ? " · " + esc(s.status) : ""}</small></h2><table><tbody>` +
      atts.slice(page * PAGE, page * PAGE + PAGE).map((a) => {
        const r = A[a], key = `${P[r[0]][0]}:${r[1]}`;
        return `<tr class="arow ${key === s.attempt ? "sel" : ""}" data-attempt="${esc(key)}">` +
          `<td class="id">${esc(P[r[0]][0])} #${r[1]}</td><td>${badge(r[2])}</td>` +
          `<td class="ans">${esc(r[4] == null ? "" : r[4])}</td><td class="num">${r[5]} tok</td></tr>`;
      }).join("") + `</tbody></table>` + (atts.length ? "" : "<p class='hint'>No attempt matches.</p>") +
      pager(atts.length, PAGE, page, "page");

    renderDetail(s.attempt);
    document.body.setAttribute("data-shown-problems", probs.length);
    document.body.setAttribute("data-shown-attempts", atts.length);
  }

  function section(cls, title, body, open) {
    if (body == null || body === "") return "";
    return `<details class="${cls}" ${open ? "open" : ""}><summary>${title}</summary><pre>${esc(body)}</pre></details>`;
  }
  function renderDetail(key) {
    const box = $("detail");
    if (!key) { box.innerHTML = "<p class='hint'>Open an attempt to read it.</p>"; return; }
    const cut = key.lastIndexOf(":"), pi = pidIndex.get(key.slice(0, cut)), idx = +key.slice(cut + 1);
    const ai = pi === undefined ? -1 : byProblem[pi].find((a) => A[a][1] === idx);
    if (ai === undefined || ai < 0) { box.innerHTML = `<p class="err">No attempt ${esc(key)} in this run.</p>`; return; }
    const ac = "a" + Math.floor(ai / D.chunks.attempts), pc = "p" + Math.floor(pi / D.chunks.prompts);
    if (!done.has(ac) || !done.has(pc)) {
      box.innerHTML = `<p class="hint">Reading attempt ${esc(key)}...</p>`;
      Promise.all([need(ac), need(pc)]).then(() => { if (state().attempt === key) renderDetail(key); },
        (e) => { box.innerHTML = `<p class="err">Cannot read this attempt's details: ${esc(e)}</p>`; });
      return;
    }
    const r = A[ai], d = done.get(ac)[ai % D.chunks.attempts], t = d.trajectory;
    const prompt = done.get(pc)[pi % D.chunks.prompts];
    let html = `<h2>${esc(P[pi][0])} · attempt ${idx} ${badge(r[2])}</h2>` +
      `<table class="kv"><tr><th>verdict</th><td class="verdict">${esc(S[r[2]])}${r[3] ? " (correct)" : ""}</td></tr>` +
      `<tr><th>extracted answer</th><td class="answer">${esc(d.answer == null ? "(none)" : d.answer)}</td></tr>` +
      `<tr><th>reference</th><td class="reference">${esc(P[pi][1] == null ? "(none)" : P[pi][1])}</td></tr>` +
      `<tr><th>tokens</th><td>${d.tokens[0]} prompt + ${d.tokens[1]} completion · seed ${esc(d.seed)} · ` +
      `${d.latency_s} s · finish ${esc(d.finish)}</td></tr></table>`;
    html += section("prompt", "prompt", prompt, false);
    html += section("completion", "completion", d.text, !t);
    html += section("diff", "diff", d.diff, true);
    if (d.detail && Object.keys(d.detail).length) html += section("vdetail", "verdict detail", JSON.stringify(d.detail, null, 1), true);
    html += section("log", "log excerpt", d.log, true);
    if (t) {
      html += `<details class="trajectory" open><summary>agent trajectory: ${t.steps.length} steps, exit ${esc(t.exit)}</summary>` +
        t.steps.map((st) => `<div class="step step-${esc(st.kind)}"><div class="sh">step ${st.step} · ${esc(st.kind)}` +
          (st.exit_code != null ? ` · exit ${st.exit_code}` : "") + (st.timed_out ? " · timed out" : "") +
          ` · ${st.tokens} tok · model ${st.model_s} s · exec ${st.exec_s} s</div>` +
          (st.thought ? `<div class="thought">${esc(st.thought)}</div>` : "") +
          (st.command != null ? `<pre class="cmd">$ ${esc(st.command)}</pre>` : "") +
          (st.reply != null ? `<pre class="reply">${esc(st.reply)}</pre>` : "") +
          (st.output ? `<pre class="out">${esc(st.output)}</pre>` : "") + `</div>`).join("") + `</details>`;
    }
    box.innerHTML = html;
    document.body.setAttribute("data-detail-ms", performance.now().toFixed(1));
  }

  document.addEventListener("click", (e) => {
    const el = e.target.closest("[data-go],[data-status],[data-problem],[data-attempt]");
    if (!el || el.disabled) return;
    if (el.dataset.go) go(JSON.parse(el.dataset.go));
    else if (el.dataset.status !== undefined) go({ status: el.dataset.status, page: 0, ppage: 0 });
    else if (el.dataset.problem !== undefined) go({ problem: el.dataset.problem, page: 0 });
    else go({ attempt: el.dataset.attempt });
  });
  window.addEventListener("hashchange", render);
  render();
  document.body.setAttribute("data-ready-ms", performance.now().toFixed(1));
})();
