/// The web console every node serves at `GET /`: one self-contained page (no external
/// assets, no build step) that polls `GET /v1/cluster` of the node that served it once a
/// second and draws the cluster from it, and a key browser on the key/value routes.
///
/// What the page relies on, so that a test can find it: each node's row is
/// `tr[data-node=ID]` with its state in `.state` (`reachable` or `unreachable`); each group is
/// `article[data-group=NAME]` with its leader in `.leader` (`none` while there is none); the
/// key browser's result is `#kv-result`, its HTTP status in `data-status`.
enum ConsolePage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RaftHost console</title>
<style>
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f7f8fa; --card: #fff;
  --ok: #12805c; --bad: #c4320a; --lead: #3552b8; --p: #3552b8; --r: #12805c; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .4rem 1.2rem; padding: .8rem 1.2rem;
  background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 1.15rem; margin: 0; }
h1 span { color: var(--muted); font-weight: 500; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
h2 small, .muted { color: var(--muted); font-weight: 400; }
h3 { font-size: .85rem; margin: .8rem 0 .3rem; color: var(--muted); font-weight: 600; }
main { padding: 1rem 1.2rem; display: grid; gap: 1rem; max-width: 1100px; }
section, article { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; }
#groups { display: grid; gap: 1rem; background: none; border: 0; padding: 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .25rem .6rem .25rem 0; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 500; font-size: .8rem; }
td.num, th.num { text-align: right; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .78rem; border: 1px solid var(--line); }
.reachable { color: var(--ok); border-color: var(--ok); }
.unreachable { color: var(--bad); border-color: var(--bad); }
.role-leader { color: #fff; background: var(--lead); border-color: var(--lead); }
tr.down td { color: var(--muted); }
.summary { margin-bottom: .5rem; }
.summary b.leader { color: var(--lead); }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; margin-top: .6rem; }
figure { margin: 0; }
figcaption { font-size: .8rem; color: var(--muted); }
figcaption b { color: var(--fg); }
svg.chart { display: block; width: 220px; height: 44px; background: var(--bg); border-radius: 4px; }
ol.changes { margin: 0; padding-left: 1.2rem; font-size: .85rem; }
#banner { width: 100%; color: var(--bad); font-weight: 600; }
#kv-form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
input, select, button { font: inherit; padding: .25rem .5rem; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
input#kv-value { min-width: 16rem; }
button { cursor: pointer; background: var(--fg); color: #fff; border-color: var(--fg); }
pre#kv-result { background: var(--bg); padding: .5rem; border-radius: 6px; min-height: 2.2rem; white-space: pre-wrap; word-break: break-all; }
</style>
</head>
<body>
<header>
  <h1>RaftHost <span id="cluster"></span></h1>
  <div class="muted">served by <b id="served-by">…</b> · updated <span id="updated">never</span></div>
  <div id="banner" hidden></div>
</header>
<main>
  <section>
    <h2>Nodes</h2>
    <table id="nodes">
      <thead><tr><th>node</th><th>HTTP address</th><th>state</th><th>roles</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="groups"></section>
  <section id="kv-section" hidden>
    <h2>Key browser</h2>
    <form id="kv-form" autocomplete="off">
      <label>group <select id="kv-group"></select></label>
      <label>key <input id="kv-key" required></label>
      <label>value <input id="kv-value"></label>
      <button type="button" id="kv-get">Get</button>
      <button type="button" id="kv-put">Put</button>
      <button type="button" id="kv-delete">Delete</button>
      <label><input type="checkbox" id="kv-stale"> stale read (this node's copy)</label>
    </form>
    <pre id="kv-result"></pre>
  </section>
</main>
<script>
"use strict";
const POLL_MS = 1000, HISTORY = 60;
const $ = (selector, root = document) => root.querySelector(selector);
const esc = (value) => String(value ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
// Per group: the counters of the previous poll per node, and the rates of the last polls.
const previous = { time: 0, counters: {} };
const history = {};

function rates(view) {
  const counters = {}, result = {};
  for (const node of view.nodes) {
    for (const group of node.status?.groups ?? []) {
      counters[`${node.id}/${group.name}`] = { p: group.proposals ?? 0, r: group.reads ?? 0 };
    }
  }
  const seconds = (view.time - previous.time) / 1000;
  for (const group of view.groups) {
    let p = 0, r = 0;
    for (const node of view.nodes) {
      const now = counters[`${node.id}/${group.name}`], before = previous.counters[`${node.id}/${group.name}`];
      // A node that restarted counts from zero again: skip it for one poll.
      if (!now || !before || now.p < before.p || now.r < before.r) continue;
      p += now.p - before.p;
      r += now.r - before.r;
    }
    const list = history[group.name] ?? (history[group.name] = []);
    if (previous.time && seconds > 0) list.push({ p: p / seconds, r: r / seconds });
    if (list.length > HISTORY) list.shift();
    result[group.name] = list;
  }
  previous.time = view.time;
  previous.counters = counters;
  return result;
}

function chart(points, key, color) {
  // One bar per poll, the newest on the right, scaled to the highest value shown.
  const width = 220, height = 44, step = width / HISTORY;
  const values = points.map((point) => point[key]);
  const top = Math.max(1, ...values);
  const bars = values.map((value, i) => {
    const h = value > 0 ? Math.max(1, (value / top) * (height - 4)) : 0;
    const x = width - step * (values.length - i);
    return `<rect x="${x.toFixed(1)}" y="${(height - h).toFixed(1)}" width="${(step - 0.6).toFixed(1)}" height="${h.toFixed(1)}"/>`;
  }).join("");
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" fill="${color}">`
    + `<title>peak ${top.toFixed(1)}/s over the last ${values.length} s</title>${bars}</svg>`;
}

const number = (value) => value === undefined || value === null ? "—" : String(value);
const rate = (points, key) => points.length ? points[points.length - 1][key].toFixed(1) : "0.0";
const clock = (ms) => new Date(ms).toLocaleTimeString();

function renderNodes(view) {
  $("#nodes tbody").innerHTML = view.nodes.map((node) => {
    const roles = (node.status?.groups ?? []).map((g) =>
      `${esc(g.name)}: <span class="badge role-${esc(g.role)}">${esc(g.role)}</span>`).join(" ");
    const state = node.reachable ? "reachable" : "unreachable";
    return `<tr data-node="${esc(node.id)}" class="${node.reachable ? "" : "down"}">
      <td><b>${esc(node.id)}</b>${node.id === view.servedBy ? ' <span class="muted">(this page)</span>' : ""}</td>
      <td>${esc(node.http)}</td>
      <td><span class="state badge ${state}" title="${esc(node.error)}">${state}</span></td>
      <td>${roles || '<span class="muted">—</span>'}</td></tr>`;
  }).join("");
}

function renderGroups(view, series) {
  $("#groups").innerHTML = view.groups.map((group) => {
    const leaderNode = view.nodes.find((node) => node.id === group.leader);
    const lag = leaderNode?.status?.groups.find((g) => g.name === group.name)?.replicationLag ?? {};
    const rows = view.nodes.map((node) => {
      const g = node.status?.groups.find((candidate) => candidate.name === group.name);
      if (!g) {
        // The leader still knows how far behind an unreachable follower is.
        return `<tr data-node="${esc(node.id)}" class="down"><td>${esc(node.id)}</td>
          <td><span class="badge unreachable">unreachable</span></td><td colspan="5"></td>
          <td class="num lag">${esc(number(lag[node.id]))}</td></tr>`;
      }
      const behind = node.id === group.leader ? "leader" : (group.leader ? number(lag[node.id]) : "?");
      return `<tr data-node="${esc(node.id)}"><td>${esc(node.id)}</td>
        <td><span class="badge role-${esc(g.role)}">${esc(g.role)}</span></td>
        <td class="num">${g.term}</td><td class="num">${g.commitIndex}</td><td class="num">${g.appliedIndex}</td>
        <td class="num">${g.snapshotIndex}</td><td class="num">${g.lastIndex}</td><td class="num lag">${esc(behind)}</td></tr>`;
    }).join("");
    const changes = group.leaderChanges.slice(0, 8).map((change) =>
      `<li>term ${change.term}: <b>${esc(change.leader)}</b> <span class="muted">at ${esc(clock(change.at))}</span></li>`).join("");
    const points = series[group.name] ?? [];
    return `<article class="group" data-group="${esc(group.name)}">
      <h2>${esc(group.name)} <small>${esc(group.stateMachine)}</small></h2>
      <div class="summary">leader <b class="leader">${esc(group.leader ?? "none")}</b> · term <b class="term">${group.term}</b></div>
      <table><thead><tr><th>node</th><th>role</th><th class="num">term</th><th class="num">commit</th>
        <th class="num">applied</th><th class="num">snapshot</th><th class="num">last</th><th class="num">lag (entries)</th></tr></thead>
        <tbody>${rows}</tbody></table>
      <div class="charts">
        <figure><figcaption>proposals/s <b class="rate-proposals">${rate(points, "p")}</b></figcaption>${chart(points, "p", "#3552b8")}</figure>
        <figure><figcaption>reads/s <b class="rate-reads">${rate(points, "r")}</b></figcaption>${chart(points, "r", "#12805c")}</figure>
      </div>
      <h3>Recent leader changes</h3>
      <ol class="changes">${changes || '<li class="muted">none known</li>'}</ol>
    </article>`;
  }).join("");
}

function renderKeyBrowser(view) {
  const kvGroups = view.groups.filter((group) => group.stateMachine === "KeyValueStore").map((group) => group.name);
  $("#kv-section").hidden = kvGroups.length === 0;
  const select = $("#kv-group");
  if (select.dataset.groups !== kvGroups.join(",")) {
    select.innerHTML = kvGroups.map((name) => `<option>${esc(name)}</option>`).join("");
    select.dataset.groups = kvGroups.join(",");
  }
}

async function poll() {
  try {
    const response = await fetch("/v1/cluster", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const view = await response.json();
    $("#cluster").textContent = view.cluster;
    $("#served-by").textContent = view.servedBy;
    $("#updated").textContent = clock(view.time);
    $("#banner").hidden = true;
    renderNodes(view);
    renderGroups(view, rates(view));
    renderKeyBrowser(view);
  } catch (error) {
    const banner = $("#banner");
    banner.textContent = `cannot reach ${location.host}, the node serving this page (${error.message}); retrying`;
    banner.hidden = false;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function keyRequest(method) {
  const group = $("#kv-group").value, key = $("#kv-key").value;
  const result = $("#kv-result");
  if (!key) { result.textContent = "enter a key"; result.dataset.status = ""; return; }
  const stale = method === "GET" && $("#kv-stale").checked ? "?consistency=stale" : "";
  const path = `/v1/groups/${encodeURIComponent(group)}/kv/${encodeURIComponent(key)}${stale}`;
  result.textContent = `${method} ${path} …`;
  result.dataset.status = "pending";
  try {
    const response = await fetch(path, { method, body: method === "PUT" ? $("#kv-value").value : undefined });
    const body = await response.text();
    result.textContent = `${method} ${path} → ${response.status}\n${body}`;
    result.dataset.status = String(response.status);
    if (method === "GET" && response.ok) $("#kv-value").value = body;
  } catch (error) {
    result.textContent = `${method} ${path} failed: ${error.message}`;
    result.dataset.status = "error";
  }
}

$("#kv-get").addEventListener("click", () => keyRequest("GET"));
$("#kv-put").addEventListener("click", () => keyRequest("PUT"));
$("#kv-delete").addEventListener("click", () => keyRequest("DELETE"));
$("#kv-form").addEventListener("submit", (event) => { event.preventDefault(); keyRequest("GET"); });
poll();
</script>
</body>
</html>
"""#
}
