// app.js: the dashboard. Everything shown comes from the /v1 API with the
// session cookie; commands carry the session's CSRF value. Data is written
// with textContent only, never as HTML, so a rollout's message cannot
// inject markup.
"use strict";

const WINDOW_MS = 30 * 60 * 1000; // the control plane keeps 30 minutes
const COLORS = {stable: "#1f77b4", canary: "#e67e00", baseline: "#2ca02c"};
const ROLES = ["stable", "canary", "baseline"];

const state = {csrf: null, es: null, name: null, view: null, points: [], drawQueued: false};
const $ = id => document.getElementById(id);

function show(id, on) { $(id).classList.toggle("hidden", !on); }

function text(tag, s, cls) {
  const e = document.createElement(tag);
  e.textContent = s == null ? "" : String(s);
  if (cls) e.className = cls;
  return e;
}

// --- formatting, as the CLI prints it ---

function pct(ppm) { return (ppm / 1e4).toFixed(4).replace(/\.?0+$/, "") + "%"; }

function stepText(s) {
  if (s.setWeight != null) return "setWeight " + s.setWeight + "%";
  if (s.pause && s.pause.duration) return "pause " + s.pause.duration;
  if (s.pause) return "pause (until promote)";
  if (s.analysis) return "analysis " + (s.analysis.duration || "");
  if (s.setMirror) return "setMirror " + s.setMirror.name + (s.setMirror.percentage != null ? " " + s.setMirror.percentage + "%" : " off");
  if (s.setHeaderRoute) return "setHeaderRoute " + headerRouteText(s.setHeaderRoute);
  return "?";
}

// headerRouteText says a route as the CLI does: `beta (X-Beta exact "1")`,
// or `beta removed` for a step without match.
function headerRouteText(h) {
  if (!h.match || !h.match.length) return h.name + " removed";
  return h.name + " (" + h.match.map(m => {
    const v = m.headerValue || {};
    const kind = v.exact ? "exact" : v.prefix ? "prefix" : "regex";
    return m.headerName + " " + kind + " " + JSON.stringify(v.exact || v.prefix || v.regex || "");
  }).join(", ") + ")";
}

function releasing(st) { return !!st.canaryRevision && st.phase !== "Healthy" && st.phase !== "Aborted"; }

function stepLine(v) {
  const n = (v.steps || []).length, st = v.status;
  if (!n || !releasing(st)) return "-";
  const i = Math.max(0, st.stepIndex);
  if (i >= n) return n + "/" + n + " (all steps done)";
  return (i + 1) + "/" + n + " " + stepText(v.steps[i]);
}

function phaseLine(st) { return st.phase === "Paused" && st.pausedBy ? st.phase + " (" + st.pausedBy + ")" : st.phase; }

function notice(msg, isError) {
  const n = $("notice");
  n.textContent = msg;
  n.classList.toggle("error", !!isError);
  show("notice", !!msg);
}

// --- session ---

async function boot() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  for (const b of document.querySelectorAll("[data-cmd]")) b.addEventListener("click", () => command(b.dataset.cmd));
  window.addEventListener("hashchange", () => {
    const token = takeLinkToken();
    if (token !== null) loginWith(token); else if (state.csrf) route();
  });
  window.addEventListener("resize", queueDraw);
  const token = takeLinkToken();
  if (token !== null && await loginWith(token)) return;
  const r = await fetch("/dashboard/session", {credentials: "same-origin"});
  if (r.ok) loggedIn(await r.json()); else showLogin("");
}

// takeLinkToken reads a login link's token: kanaria dashboard prints links
// with it in the fragment, "#token=T" or "#token=T&/rollouts/NAME" (a
// fragment never reaches a server). The address becomes the page after
// "&" at once, replacing the entry with the token in the tab's history.
// null when the address is no such link.
function takeLinkToken() {
  const link = location.hash.match(/^#token=([^&]*)(?:&(.*))?$/);
  if (!link) return null;
  history.replaceState(null, "", location.pathname + location.search + "#" + (link[2] || "/"));
  return decodeURIComponent(link[1]);
}

function showLogin(msg) {
  closeStream();
  state.csrf = null; state.view = null; state.points = [];
  // Nothing from a previous session stays on the page.
  $("rollout-list").replaceChildren(); $("events").replaceChildren(); $("steps").replaceChildren();
  for (const id of ["list", "rollout", "notice", "logout"]) show(id, false);
  $("version").textContent = "";
  $("login-error").textContent = msg || "";
  show("login", true);
  $("token").focus();
}

function loggedIn(s) {
  state.csrf = s.csrf;
  $("version").textContent = s.info && s.info.version ? "kanaria " + s.info.version : "";
  show("login", false); show("logout", true);
  route();
}

async function login(ev) {
  ev.preventDefault();
  const token = $("token").value.trim();
  $("token").value = "";
  await loginWith(token);
}

// loginWith opens a session with token; it reports whether it did, and
// otherwise shows the login form with the reason.
async function loginWith(token) {
  const r = await fetch("/dashboard/login", {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token: token}),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { showLogin(body.error || ("login failed: " + r.status)); return false; }
  $("login-error").textContent = "";
  loggedIn(body);
  return true;
}

async function logout() {
  await fetch("/dashboard/logout", {method: "POST", credentials: "same-origin", headers: {"X-Kanaria-CSRF": state.csrf || ""}});
  location.hash = "#/";
  showLogin("Logged out.");
}

// --- live streams ---

function closeStream() {
  if (state.es) { state.es.close(); state.es = null; }
  $("conn").className = "conn";
}

function openStream(url, handlers) {
  closeStream();
  const es = new EventSource(url);
  state.es = es;
  es.onopen = () => { $("conn").className = "conn live"; };
  for (const [ev, fn] of Object.entries(handlers)) es.addEventListener(ev, e => fn(JSON.parse(e.data)));
  es.addEventListener("problem", e => notice("control plane: " + JSON.parse(e.data).error, true));
  es.onerror = async () => {
    $("conn").className = "conn down";
    if (es.readyState !== EventSource.CLOSED || state.es !== es) return; // the browser reconnects by itself
    // Refused outright: the session may have ended.
    const r = await fetch("/dashboard/session", {credentials: "same-origin"}).catch(() => null);
    if (r && r.status === 401) { showLogin("Session ended; log in again."); return; }
    setTimeout(() => { if (state.es === es) route(); }, 2000);
  };
}

function route() {
  const m = location.hash.match(/^#\/rollouts\/(.+)$/);
  notice("");
  if (m) openRollout(decodeURIComponent(m[1])); else openList();
}

// --- rollout list ---

function openList() {
  state.name = null;
  show("rollout", false); show("list", true);
  openStream("/v1/watch", {rollouts: renderList});
}

function renderList(views) {
  const rows = views.map(v => {
    const st = v.status, tr = document.createElement("tr");
    tr.dataset.name = v.name;
    const a = text("a", v.name);
    a.href = "#/rollouts/" + encodeURIComponent(v.name);
    const name = document.createElement("td"); name.append(a);
    tr.append(name, text("td", phaseLine(st), "phase " + st.phase), text("td", stepLine(v)),
      text("td", pct(st.weights.canaryPPM), "weight"), text("td", pct(st.weights.baselinePPM)),
      text("td", st.stableRevision || "-"), text("td", st.canaryRevision || "-"));
    return tr;
  });
  if (!rows.length) { const tr = document.createElement("tr"); tr.append(text("td", "no rollouts")); rows.push(tr); }
  $("rollout-list").replaceChildren(...rows);
}

// --- one rollout ---

async function openRollout(name) {
  state.name = name; state.view = null; state.points = [];
  $("r-name").textContent = name;
  $("events").replaceChildren(); $("steps").replaceChildren(); $("analysis").replaceChildren(); $("diff").replaceChildren();
  $("diff-summary").textContent = "";
  show("list", false); show("rollout", true);
  const path = "/v1/rollouts/" + encodeURIComponent(name);
  openStream(path + "/watch", {rollout: renderRollout, events: addEvents, points: addPoints});
  const r = await fetch(path + "/history?since=" + (Date.now() - WINDOW_MS), {credentials: "same-origin"});
  if (r.ok && state.name === name) addPoints(await r.json());
  queueDraw();
  loadDiff(name);
}

// loadDiff shows the comparison of mirrored answers (GET .../diff) and
// reads it again every 2 s while this rollout is open.
async function loadDiff(name) {
  if (state.name !== name) return;
  const r = await fetch("/v1/rollouts/" + encodeURIComponent(name) + "/diff", {credentials: "same-origin"}).catch(() => null);
  if (state.name !== name) return;
  if (r && r.ok) renderDiff(await r.json());
  else if (r && r.status === 404) { $("diff-summary").textContent = "no shadow traffic: a setMirror step or strategy.canary.mirror starts it"; $("diff").replaceChildren(); }
  setTimeout(() => loadDiff(name), 2000);
}

function renderDiff(d) {
  const rv = d.revisions || {}, c = d.counters || {};
  $("diff-summary").textContent = "canary " + rv.candidate + " vs stable " + rv.primary +
    (rv.secondary ? ", noise from baseline " + rv.secondary : ", no baseline: noise not measured") +
    "; compared " + d.samples + " (dropped " + c.dropped + ", shadow errors " + c.shadowErrors + "); difference above noise " +
    (100 * d.differenceAboveNoise).toFixed(2) + "%";
  const rate = x => (100 * x).toFixed(2) + "%";
  const rows = [];
  for (const e of d.endpoints || []) {
    const fields = e.fields && e.fields.length ? e.fields : [null];
    for (const f of fields) {
      const tr = document.createElement("tr");
      if (f && f.significant) tr.className = "significant";
      tr.append(text("td", e.endpoint), text("td", f ? f.kind + (f.path ? " " + f.path : "") : "(no differences)"),
        text("td", f ? rate(f.candidateRate) : "0.00%"), text("td", f ? rate(f.noiseRate) : "0.00%"),
        text("td", e.samples), text("td", f && f.significant ? "yes" : ""));
      rows.push(tr);
    }
  }
  $("diff").replaceChildren(...rows);
}

function renderRollout(v) {
  state.view = v;
  const st = v.status;
  $("phase").textContent = phaseLine(st);
  $("phase").className = "phase " + st.phase;
  $("step").textContent = stepLine(v);
  $("weight").textContent = pct(st.weights.canaryPPM);
  $("baseline-weight").textContent = pct(st.weights.baselinePPM);
  $("stable-rev").textContent = st.stableRevision || "-";
  $("canary-rev").textContent = st.canaryRevision || "-";
  $("message").textContent = st.message || "";
  // A traffic provider other than kanaria's router (ELB) says what it
  // honours of the weight.
  $("traffic-note").textContent = v.traffic || "";
  show("traffic-note", !!v.traffic);
  // The Ready condition says when the stable revision does not serve.
  const ready = (st.conditions || []).find(c => c.type === "Ready");
  const notServing = !!ready && ready.status === "False";
  $("not-serving").textContent = notServing ? "Not serving (" + ready.reason + "): " + ready.message : "";
  show("not-serving", notServing);
  const routes = st.headerRoutes || [];
  $("header-routes").replaceChildren(...routes.map(h => text("li", headerRouteText(h))));
  show("header-routes-box", routes.length > 0);
  const rel = releasing(st);
  $("btn-promote").disabled = !rel;
  $("btn-pause").disabled = st.phase !== "Progressing";
  $("btn-resume").disabled = !(st.phase === "Paused" && st.pausedBy === "user");
  $("btn-abort").disabled = !rel;
  $("btn-undo").disabled = !(rel || st.previousRevision);

  const steps = (v.steps || []).map((s, i) => {
    const li = text("li", stepText(s));
    if (rel && i < st.stepIndex) li.className = "done";
    if (rel && i === st.stepIndex) { li.className = "current"; li.setAttribute("aria-current", "step"); }
    return li;
  });
  if (!steps.length) steps.push(text("li", v.strategy === "blueGreen" ? "blue/green: one switch" : "no steps"));
  $("steps").replaceChildren(...steps);
  renderAnalysis(v.analysis ?? st.analysis);
}

// renderAnalysis shows status.analysis, whatever its shape, as nested lists:
// the verdicts with the numbers behind them.
function renderAnalysis(a) {
  const box = $("analysis");
  if (a == null || (Array.isArray(a) && !a.length)) { box.replaceChildren(text("p", "no analysis configured", "muted")); return; }
  box.replaceChildren(renderValue(a));
}

function renderValue(v) {
  if (v == null || typeof v !== "object") {
    const s = text("span", v);
    if (/^(Pass|Fail|Inconclusive)$/i.test(String(v))) s.className = "verdict " + String(v).toLowerCase();
    return s;
  }
  if (Array.isArray(v)) {
    const ul = document.createElement("ul");
    for (const x of v) { const li = document.createElement("li"); li.append(renderValue(x)); ul.append(li); }
    return ul;
  }
  const dl = document.createElement("dl");
  for (const [k, x] of Object.entries(v)) {
    const dd = document.createElement("dd"); dd.append(renderValue(x));
    dl.append(text("dt", k), dd);
  }
  return dl;
}

function addEvents(evs) {
  const rows = evs.map(e => {
    const tr = document.createElement("tr");
    tr.append(text("td", new Date(e.time).toLocaleTimeString([], {hour12: false})), text("td", e.type, "ev " + e.type), text("td", e.message));
    return tr;
  }).reverse(); // newest first
  const tb = $("events");
  tb.prepend(...rows);
  while (tb.children.length > 500) tb.lastChild.remove();
}

// addPoints merges points by time (the history fetch and the stream overlap).
function addPoints(pts) {
  if (!pts.length) return;
  const byT = new Map(state.points.map(p => [p.t, p]));
  for (const p of pts) byT.set(p.t, p);
  const cut = Date.now() - WINDOW_MS;
  state.points = [...byT.values()].filter(p => p.t >= cut).sort((a, b) => a.t - b.t);
  queueDraw();
}

// --- charts ---

function queueDraw() {
  if (state.drawQueued) return;
  state.drawQueued = true;
  requestAnimationFrame(() => { state.drawQueued = false; drawCharts(); });
}

function drawCharts() {
  if (!state.name) return;
  const pts = state.points, now = Date.now();
  const first = pts.length ? pts[0].t : now;
  const opts = {from: Math.min(now - 60000, Math.max(first, now - WINDOW_MS)), to: now};
  const ser = (label, color, f, dash, legend) => ({label, color, dash, legend, points: pts.map(p => [p.t, f(p)])});
  const ver = (p, role) => (p.versions || {})[role];
  const roles = ROLES.filter(r => pts.some(p => ver(p, r)));

  drawChart($("chart-weight"), [
    ser("canary", COLORS.canary, p => p.canaryPPM / 1e4),
    ser("baseline", COLORS.baseline, p => p.baselinePPM / 1e4),
  ], opts);
  drawChart($("chart-rps"), roles.map(r => ser(r, COLORS[r], p => ver(p, r) ? ver(p, r).requests : null)), opts);
  drawChart($("chart-errors"), roles.map(r => ser(r, COLORS[r], p => {
    const v = ver(p, r);
    return v && v.requests ? v.errorRate * 100 : null; // no requests: no rate
  })), opts);
  drawChart($("chart-latency"), roles.flatMap(r => [
    ser(r, COLORS[r], p => ver(p, r) && ver(p, r).p99ms != null ? ver(p, r).p99ms : null),
    ser(r + " p50", COLORS[r], p => ver(p, r) && ver(p, r).p50ms != null ? ver(p, r).p50ms : null, true, false),
  ]), opts);
}

// --- commands ---

const CONFIRM = {
  promote: "Promote {name}: move past the current step?",
  pause: "Pause {name}? Traffic stays where it is.",
  resume: "Resume {name}?",
  abort: "Abort the release of {name}? The canary gets 0% at once.",
  undo: "Undo {name}: go back to the previous revision?",
};

async function command(cmd) {
  const name = state.name;
  if (!name || !confirm(CONFIRM[cmd].replace("{name}", name))) return;
  const r = await fetch("/v1/rollouts/" + encodeURIComponent(name) + "/" + cmd, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Kanaria-CSRF": state.csrf || ""},
    body: JSON.stringify({reason: "from the dashboard"}),
  });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) { showLogin("Session ended; log in again."); return; }
  if (!r.ok) { notice(cmd + ": " + (body.error || r.status), true); return; }
  notice(body.note || (cmd + ": done"));
  if (state.name === name) renderRollout(body);
}

boot();
