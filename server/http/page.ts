/**
 * The status page: one HTML file, a stylesheet and a small script, no build step and no
 * framework. Data comes from /api/v1/status; /api/v1/events (SSE) says when to refresh,
 * with polling as the fallback. Everything from the server is put in the DOM as text.
 */
export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hawatch</title>
<link rel="stylesheet" href="/status.css">
<link rel="icon" href="data:,">
</head>
<body>
<header>
  <h1 id="title">hawatch</h1>
  <div id="summary" aria-live="polite"></div>
  <div class="right">
    <span id="live" class="live off" title="live updates">offline</span>
    <label>API token <input id="token" type="password" autocomplete="off" placeholder="needed to change state"></label>
  </div>
</header>
<div id="degraded" class="degraded" role="alert" hidden></div>
<main>
  <div class="filters">
    <label><input id="onlyProblems" type="checkbox"> problems only</label>
    <input id="search" type="search" placeholder="filter host or service">
    <span id="updated"></span>
  </div>
  <table id="objects">
    <thead><tr><th>Host</th><th>Service</th><th>State</th><th>Duration</th><th>Last check</th><th>Attempt</th><th>Status information</th><th>Perfdata</th><th></th></tr></thead>
    <tbody></tbody>
  </table>
  <div id="more" hidden><span class="what"></span> <button type="button">Show 500 more</button></div>
  <p id="message" role="status"></p>
  <section id="silences">
    <h2>Silences</h2>
    <table id="silenceList">
      <thead><tr><th>Matchers</th><th>Author</th><th>Comment</th><th>From</th><th>Until</th><th>Objects now</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
    <form id="silenceForm">
      <label>Host glob <input name="host" required value="*"></label>
      <label>Service glob <input name="service" placeholder="empty: the host and all its services"></label>
      <label>States <input name="states" placeholder="CRITICAL,WARNING or empty for any"></label>
      <label>Author <input name="author" required value="operator"></label>
      <label>Comment <input name="comment" required placeholder="deploying"></label>
      <label>Minutes <input name="minutes" type="number" min="1" value="60" required></label>
      <button type="submit" class="primary">Add silence</button>
    </form>
  </section>
</main>
<dialog id="ackDialog">
  <form method="dialog">
    <h2>Acknowledge <span class="target"></span></h2>
    <label>Author <input name="author" required value="operator"></label>
    <label>Comment <input name="comment" required placeholder="working on it"></label>
    <label><input name="sticky" type="checkbox"> sticky (until OK)</label>
    <label><input name="notify" type="checkbox" checked> notify contacts</label>
    <menu><button value="cancel" formnovalidate>Cancel</button><button value="ok" class="primary">Acknowledge</button></menu>
  </form>
</dialog>
<dialog id="downtimeDialog">
  <form method="dialog">
    <h2>Schedule downtime <span class="target"></span></h2>
    <label>Author <input name="author" required value="operator"></label>
    <label>Comment <input name="comment" required placeholder="maintenance"></label>
    <label>Minutes <input name="minutes" type="number" min="1" value="60" required></label>
    <label><input name="flexible" type="checkbox"> flexible (starts with the first problem in the next <i>minutes</i>)</label>
    <label class="hostonly"><input name="services" type="checkbox" checked> include the host's services</label>
    <menu><button value="cancel" formnovalidate>Cancel</button><button value="ok" class="primary">Schedule</button></menu>
  </form>
</dialog>
<script src="/status.js"></script>
</body>
</html>
`;

export const PAGE_CSS = String.raw`
:root { --ok: #2e7d32; --warn: #b58900; --crit: #c62828; --unk: #6a1b9a; --pend: #607d8b; --bg: #f6f7f9; --fg: #1d232a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: 1.5em; padding: .6em 1em; background: #1d232a; color: #fff; flex-wrap: wrap; }
header h1 { font-size: 1.2em; margin: 0; }
header .right { margin-left: auto; display: flex; gap: 1em; align-items: center; }
header input { font: inherit; padding: .2em .4em; }
.degraded { background: #b00020; color: #fff; padding: .6em 1em; font-weight: bold; }
#summary { display: flex; gap: .4em; flex-wrap: wrap; }
.badge { display: inline-block; padding: .1em .5em; border-radius: .8em; font-size: .85em; font-weight: 600; color: #fff; background: var(--pend); white-space: nowrap; }
.badge.zero { opacity: .35; }
.live { font-size: .85em; padding: .1em .5em; border-radius: .8em; }
.live.on { background: var(--ok); } .live.off { background: var(--crit); } .live.poll { background: var(--warn); }
main { padding: 1em; }
.filters { display: flex; gap: 1em; align-items: center; margin-bottom: .6em; }
.filters input[type=search] { font: inherit; padding: .25em .5em; min-width: 16em; }
#updated { color: #666; font-size: .85em; margin-left: auto; }
table { width: 100%; border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { background: #eef0f3; font-weight: 600; position: sticky; top: 0; }
td.state .pill { display: inline-block; min-width: 6.5em; text-align: center; padding: .05em .4em; border-radius: .3em; color: #fff; font-weight: 700; font-size: .85em; }
.s-OK .pill, .s-UP .pill { background: var(--ok); }
.s-WARNING .pill { background: var(--warn); }
.s-CRITICAL .pill, .s-DOWN .pill, .s-UNREACHABLE .pill { background: var(--crit); }
.s-UNKNOWN .pill { background: var(--unk); }
.s-PENDING .pill { background: var(--pend); }
tr.problem td { background: #fff6f6; }
tr.problem.handled td { background: #f7f7fa; }
tr.hostrow td:first-child { font-weight: 700; }
td.output { max-width: 40em; word-break: break-word; }
td.output details summary { cursor: pointer; color: #444; font-size: .85em; }
td.output pre { white-space: pre-wrap; margin: .3em 0 0; font-size: .85em; }
td.perf { font-family: ui-monospace, monospace; font-size: .8em; color: #444; max-width: 22em; word-break: break-all; }
.flag { display: inline-block; margin: .15em 0 0 .3em; background: #fff; padding: 0 .35em; border-radius: .3em; font-size: .75em; font-weight: 700; border: 1px solid currentColor; }
.flag.silenced { color: #37474f; } .flag.inhibited { color: #5d4037; }
#silences { margin-top: 1.5em; }
#silences h2 { font-size: 1.05em; }
#silenceForm { display: flex; flex-wrap: wrap; gap: .6em; align-items: end; margin-top: .6em; }
#silenceForm label { display: flex; flex-direction: column; font-size: .85em; }
#silenceForm input { font: inherit; padding: .2em .4em; }
.flag.quiet { color: #5e35b1; font-weight: 400; }
.flag.ack { color: #1565c0; } .flag.dt { color: #6d4c41; } .flag.flap { color: #ef6c00; } .flag.stale { color: var(--unk); } .flag.soft { color: #777; }
td.actions { white-space: nowrap; }
td.actions button { font: inherit; font-size: .8em; padding: .1em .5em; margin-right: .2em; cursor: pointer; }
dialog { border: none; border-radius: .5em; box-shadow: 0 6px 24px rgba(0,0,0,.3); min-width: 24em; }
dialog h2 { font-size: 1.05em; margin-top: 0; }
dialog label { display: block; margin: .5em 0; }
dialog input:not([type=checkbox]) { width: 100%; font: inherit; padding: .25em .4em; }
dialog menu { display: flex; justify-content: flex-end; gap: .5em; padding: 0; }
button.primary { background: #1565c0; color: #fff; border: none; border-radius: .3em; padding: .3em .9em; }
#message { min-height: 1.4em; color: #1565c0; }
#more { padding: .6em; color: #444; background: #fff; border-top: 1px solid #e3e6ea; display: flex; flex-wrap: wrap; gap: .6em; align-items: center; }
#more[hidden] { display: none; }
#more button { font: inherit; padding: .3em .9em; min-height: 44px; cursor: pointer; }
#message.error { color: var(--crit); }
td.host a, td.service a { color: inherit; }
td.perf { font-family: inherit; font-size: .85em; word-break: normal; overflow-wrap: break-word; min-width: 14em; }
/* A phone (390 px): no sideways scrolling. Each row becomes a card (problems first, as the rows
   are), the columns that matter most first, the buttons big enough for a thumb (44 px). */
@media (max-width: 700px) {
  html, body { max-width: 100%; overflow-x: hidden; }
  header { gap: .5em; }
  header .right { margin-left: 0; flex-wrap: wrap; }
  header input { max-width: 10em; }
  main { padding: .5em; }
  .filters { flex-wrap: wrap; }
  .filters input[type=search] { min-width: 0; flex: 1 1 10em; }
  #objects thead, #silenceList thead { display: none; }
  #objects, #objects tbody, #silenceList, #silenceList tbody { display: block; width: 100%; }
  #objects tr { display: grid; grid-template-columns: auto 1fr auto; gap: .2em .6em; padding: .5em .6em; border-bottom: 1px solid #d6dae0; background: #fff; }
  #objects tr.problem { background: #fff6f6; border-left: .3em solid var(--crit); }
  #objects tr.problem.handled { background: #f7f7fa; border-left-color: #90a4ae; }
  #objects td { display: block; padding: 0; border: none; min-width: 0; overflow-wrap: anywhere; background: transparent !important; }
  #objects td.host { grid-column: 1; font-weight: 700; }
  #objects td.service { grid-column: 2; }
  #objects td.state { grid-column: 3; grid-row: 1; text-align: right; }
  #objects td.state .pill { min-width: 0; }
  #objects td.duration, #objects td.lastcheck, #objects td.attempt { grid-row: 2; font-size: .8em; color: #555; }
  #objects td.output, #objects td.perf, #objects td.actions { grid-column: 1 / -1; max-width: none; }
  #objects td.perf { min-width: 0; }
  #objects td.actions { white-space: normal; display: flex; flex-wrap: wrap; gap: .4em; }
  #objects td.actions button { min-height: 44px; min-width: 44px; padding: .4em .9em; font-size: .95em; margin: 0; }
  #silenceList tr { display: block; padding: .4em .6em; border-bottom: 1px solid #d6dae0; }
  #silenceList td { display: inline-block; border: none; padding: .1em .4em .1em 0; overflow-wrap: anywhere; }
  #silenceForm input { max-width: 100%; }
  dialog { min-width: 0; width: calc(100vw - 1.5em); }
  dialog button { min-height: 44px; }
}
`;

export const PAGE_JS = String.raw`
'use strict';
(function () {
  var tokenInput = document.getElementById('token');
  tokenInput.value = sessionStorage.getItem('hawatch-token') || '';
  tokenInput.addEventListener('change', function () { sessionStorage.setItem('hawatch-token', tokenInput.value.trim()); });
  var tbody = document.querySelector('#objects tbody');
  var onlyProblems = document.getElementById('onlyProblems');
  var search = document.getElementById('search');
  var live = document.getElementById('live');
  var message = document.getElementById('message');
  var last = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function duration(ms) {
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + 'd ' + h + 'h ' + m + 'm';
    if (h) return h + 'h ' + m + 'm ' + (s % 60) + 's';
    if (m) return m + 'm ' + (s % 60) + 's';
    return (s % 60) + 's';
  }
  function ago(t, now) { return t === null ? 'never' : duration(Math.max(0, now - t)) + ' ago'; }
  function say(text, isError) { message.textContent = text; message.className = isError ? 'error' : ''; }

  function renderDegraded(data) {
    var box = document.getElementById('degraded');
    var d = data.degraded;
    box.hidden = !d;
    box.textContent = d ? 'DEGRADED since ' + new Date(d.since).toLocaleString() + ': ' + d.message : '';
  }

  function renderSummary(data) {
    renderDegraded(data);
    var box = document.getElementById('summary');
    box.textContent = '';
    // Every bucket the summary counts: a host never checked (no host check yet, or none at
    // all) is PENDING, and UNREACHABLE is its own state since parents exist.
    var order = [['hosts', 'UP'], ['hosts', 'DOWN'], ['hosts', 'UNREACHABLE'], ['hosts', 'PENDING'], ['services', 'OK'], ['services', 'WARNING'], ['services', 'CRITICAL'], ['services', 'UNKNOWN'], ['services', 'PENDING']];
    order.forEach(function (o) {
      var n = (data.summary[o[0]] || {})[o[1]] || 0;
      var b = el('span', 'badge s-' + o[1] + (n ? '' : ' zero'), (o[0] === 'hosts' ? 'hosts ' : '') + o[1] + ' ' + n);
      b.style.background = getComputedStyle(document.documentElement).getPropertyValue({ UP: '--ok', OK: '--ok', DOWN: '--crit', UNREACHABLE: '--unk', WARNING: '--warn', CRITICAL: '--crit', UNKNOWN: '--unk', PENDING: '--pend' }[o[1]]);
      box.appendChild(b);
    });
    document.getElementById('title').textContent = data.title;
    document.title = data.title + ' - ' + ((data.summary.services.CRITICAL || 0) + (data.summary.hosts.DOWN || 0)) + ' critical';
  }

  // Big inventories (issue 15 item 6): the table holds only a window of the list, never all
  // 10,000 rows. The problems come first in the list, so the window starts with every problem
  // (up to MAX_PROBLEM_ROWS), then STEP rows more; "Show more" (or scrolling near the end) widens
  // it. Rows are kept by object key: a render builds a row only for an object that changed
  // (its signature differs) and moves or removes the others, so an update of one service
  // touches one row; the search box filters the whole list, not only the rows shown.
  var STEP = 300, MAX_PROBLEM_ROWS = 2000;
  var extraRows = 0;
  var rowCache = {}; // key -> { sig, tr, o } for the rows in the table
  var table = document.getElementById('objects');
  var more = document.getElementById('more');
  var marks = { firstRender: null };
  function isProblem(o) { return o.checked && o.state !== 0; }
  function signature(o) {
    // durationMs grows by itself (the 5 s tick); the time cells are kept current apart.
    var d = o.durationMs;
    o.durationMs = 0;
    var s = JSON.stringify(o);
    o.durationMs = d;
    return s;
  }
  function setTimes(entry, now) {
    var o = entry.o, c = entry.tr.cells;
    var dur = o.checked ? duration(o.durationMs) : '';
    var lc = (o.active || o.cluster || o.lastCheck) ? ago(o.lastCheck, now) : '-';
    if (c[3].textContent !== dur) c[3].textContent = dur;
    if (c[4].textContent !== lc) c[4].textContent = lc;
  }
  function buildRow(o) {
      var problem = isProblem(o);
      var tr = el('tr', (problem ? 'problem' : '') + (o.acknowledged || o.downtimeDepth ? ' handled' : '') + (o.kind === 'host' ? ' hostrow' : ''));
      tr.dataset.key = o.key;
      // The host view and the cluster view: server/http/host-cluster-view.ts.
      var hostCell = el('td', 'host');
      var hl = el('a', null, o.hostName);
      hl.href = '/host?name=' + encodeURIComponent(o.hostName);
      hostCell.appendChild(hl);
      tr.appendChild(hostCell);
      var svc = el('td', 'service');
      // The service view (graphs and history): server/http/service-view.ts.
      if (o.kind !== 'host') { var link = el('a', null, o.serviceName + (o.cluster ? ' (cluster rule)' : '')); link.href = (o.cluster ? '/cluster?key=' : '/view?key=') + encodeURIComponent(o.key); svc.appendChild(link); }
      tr.appendChild(svc);
      var st = el('td', 'state s-' + o.stateName);
      st.appendChild(el('span', 'pill', o.stateName));
      if (o.stateType === 'SOFT' && problem) st.appendChild(el('span', 'flag soft', 'SOFT'));
      if (o.acknowledged) st.appendChild(el('span', 'flag ack', o.ack && o.ack.sticky ? 'ACK (sticky)' : 'ACK'));
      if (o.downtimeDepth) st.appendChild(el('span', 'flag dt', 'DOWNTIME'));
      if (o.flapping) st.appendChild(el('span', 'flag flap', 'FLAPPING ' + o.percentStateChange + '%'));
      if (o.stale) st.appendChild(el('span', 'flag stale', 'STALE'));
      if (o.hostCheck === 'none') st.appendChild(el('span', 'flag nocheck', 'NO HOST CHECK'));
      if (o.silencedBy && o.silencedBy.length) {
        var sb = el('span', 'flag silenced', 'SILENCED');
        sb.title = o.silencedBy.map(function (x) { return x.author + ': ' + x.comment + ' until ' + new Date(x.end).toLocaleString(); }).join('\n');
        st.appendChild(sb);
      }
      if (o.inhibitedBy) st.appendChild(el('span', 'flag inhibited', 'HELD BY ' + o.inhibitedBy));
      // Why nobody was told (host down or unreachable, a dependency), why checks wait (execution dependency).
      if (o.suppressed) st.appendChild(el('span', 'flag quiet', o.suppressed));
      if (o.checkSkipped) st.appendChild(el('span', 'flag quiet', 'check skipped: ' + o.checkSkipped));
      tr.appendChild(st);
      tr.appendChild(el('td', 'duration'));
      tr.appendChild(el('td', 'lastcheck'));
      tr.appendChild(el('td', 'attempt', o.attempt + '/' + o.maxAttempts));
      var out = el('td', 'output');
      out.appendChild(el('div', null, o.output));
      if (o.longOutput) {
        var det = el('details');
        det.appendChild(el('summary', null, 'more'));
        det.appendChild(el('pre', null, o.longOutput));
        out.appendChild(det);
      }
      tr.appendChild(out);
      // Readable values with units, one a line; the raw string on hover.
      var perf = el('td', 'perf');
      perf.title = o.perfdata;
      (o.perfReadable || []).forEach(function (t) { perf.appendChild(el('div', null, t)); });
      tr.appendChild(perf);
      var act = el('td', 'actions');
      if (problem && !o.acknowledged) act.appendChild(button('Ack', function () { openAck(o); }));
      if (o.acknowledged) act.appendChild(button('Unack', function () { api('DELETE', '/api/v1/acknowledge?key=' + encodeURIComponent(o.key), null, [o.key]); }));
      act.appendChild(button('Downtime', function () { openDowntime(o); }));
      act.appendChild(button('Silence', function () { fillSilence(o); }));
      if (o.active) act.appendChild(button('Recheck', function () { say('re-checking ' + o.key + ' ...'); api('POST', '/api/v1/recheck', { key: o.key }, [o.key]); }));
      tr.appendChild(act);
      return tr;
  }

  function render(data) {
    var t0 = performance.now();
    last = data;
    renderSummary(data);
    var q = search.value.trim().toLowerCase();
    var list = data.objects;
    if (onlyProblems.checked || q) list = list.filter(function (o) {
      if (onlyProblems.checked && !isProblem(o)) return false;
      return !q || o.key.toLowerCase().indexOf(q) !== -1;
    });
    var problems = 0;
    while (problems < list.length && problems < MAX_PROBLEM_ROWS && isProblem(list[problems])) problems++;
    var want = list.slice(0, problems + STEP + extraRows);
    // Rows to keep (same signature), rows to build; then drop the rest from the table and put
    // the new ones in place. Kept rows are already in their relative order (the order depends
    // only on what the signature covers), so only new rows move.
    var cache = {};
    var trs = want.map(function (o) {
      var s = signature(o), c = rowCache[o.key];
      if (!c || c.sig !== s) c = { sig: s, tr: buildRow(o), o: o };
      c.o = o;
      cache[o.key] = c;
      setTimes(c, data.generatedAt);
      return c.tr;
    });
    for (var child = tbody.firstChild; child;) {
      var next = child.nextSibling;
      var k = child.dataset ? child.dataset.key : undefined;
      if (k === undefined || !cache[k] || cache[k].tr !== child) tbody.removeChild(child);
      child = next;
    }
    var cur = tbody.firstChild;
    trs.forEach(function (tr) {
      if (cur === tr) cur = cur.nextSibling;
      else tbody.insertBefore(tr, cur);
    });
    rowCache = cache;
    var total = data.objects.length;
    more.hidden = want.length >= list.length && list.length === total;
    more.querySelector('.what').textContent = 'Showing ' + want.length + ' of ' + list.length + (list.length < total ? ' matching (' + total + ' in all)' : '') + ', problems first. The filter box searches all of them.';
    more.querySelector('button').hidden = want.length >= list.length;
    table.dataset.total = String(total);
    table.dataset.shown = String(want.length);
    table.dataset.renderMs = String(Math.round(performance.now() - t0));
    if (marks.firstRender === null && want.length) { marks.firstRender = Math.round(performance.now()); table.dataset.firstRenderMs = String(marks.firstRender); }
    document.getElementById('updated').textContent = 'updated ' + new Date(data.generatedAt).toLocaleTimeString();
  }
  function showMore() {
    if (!last || more.querySelector('button').hidden) return;
    extraRows += 500;
    render(last);
  }
  more.querySelector('button').addEventListener('click', showMore);
  // Scrolling near the end of the table widens the window too (the button stays for keyboards).
  if (window.IntersectionObserver) new IntersectionObserver(function (entries) {
    if (entries.some(function (e) { return e.isIntersecting; }) && extraRows < 100000 && table.dataset.shown !== '0') showMore();
  }, { rootMargin: '400px' }).observe(more);

  var silenceBody = document.querySelector('#silenceList tbody');
  var silenceForm = document.getElementById('silenceForm');
  function renderSilences(list) {
    silenceBody.textContent = '';
    if (!list.length) {
      var none = el('tr');
      var td = el('td', 'none', 'no silences');
      td.colSpan = 7;
      none.appendChild(td);
      silenceBody.appendChild(none);
    }
    list.forEach(function (x) {
      var tr = el('tr', x.active ? 'silence active' : 'silence pending');
      tr.dataset.id = x.id;
      tr.appendChild(el('td', 'matchers', x.description));
      tr.appendChild(el('td', 'author', x.author));
      tr.appendChild(el('td', 'comment', x.comment));
      tr.appendChild(el('td', 'start', new Date(x.start).toLocaleString()));
      tr.appendChild(el('td', 'end', new Date(x.end).toLocaleString()));
      tr.appendChild(el('td', 'matches', x.active ? x.matches : 'not started'));
      var act = el('td', 'actions');
      act.appendChild(button('Expire', function () { api('DELETE', '/api/v1/silences/' + encodeURIComponent(x.id)); }));
      tr.appendChild(act);
      silenceBody.appendChild(tr);
    });
  }
  function loadSilences() {
    return fetch('/api/v1/silences', { cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (j) { renderSilences(j.silences || []); })
      .catch(function (e) { say('cannot load silences: ' + e, true); });
  }
  function fillSilence(o) {
    silenceForm.host.value = o.hostName;
    silenceForm.service.value = o.kind === 'host' ? '' : o.serviceName;
    silenceForm.comment.focus();
  }
  silenceForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var f = silenceForm;
    var body = { host: f.host.value.trim(), author: f.author.value, comment: f.comment.value, durationMs: Number(f.minutes.value) * 60000 };
    if (f.service.value.trim()) body.service = f.service.value.trim();
    var states = f.states.value.split(/[\s,]+/).filter(function (x) { return x; });
    if (states.length) body.states = states;
    api('POST', '/api/v1/silences', body);
  });

  function button(label, fn) { var b = el('button', null, label); b.type = 'button'; b.addEventListener('click', fn); return b; }

  // keys: the objects the action changes; only those are fetched again (their status event
  // brings them too), where a full refresh fetched 10,000 objects for one acknowledgement.
  // Without keys (silences: globs over many objects) everything is fetched again.
  function api(method, path, body, keys) {
    var headers = { authorization: 'Bearer ' + (sessionStorage.getItem('hawatch-token') || tokenInput.value.trim()) };
    if (body) headers['content-type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (r) {
        if (!r.ok) { say(r.body.message || 'request failed', true); return null; }
        say('done: ' + method + ' ' + path.split('?')[0].replace('/api/v1/', ''));
        if (keys && changedKeys) { keys.forEach(function (k) { changedKeys[k] = true; }); update(); }
        else refresh();
        return r.body;
      })
      .catch(function (e) { say(String(e), true); return null; });
  }

  function openAck(o) {
    var d = document.getElementById('ackDialog');
    d.querySelector('.target').textContent = o.key;
    d.returnValue = '';
    d.onclose = function () {
      if (d.returnValue !== 'ok') return;
      var f = d.querySelector('form');
      api('POST', '/api/v1/acknowledge', { key: o.key, author: f.author.value, comment: f.comment.value, sticky: f.sticky.checked, notify: f.notify.checked }, [o.key]);
    };
    d.showModal();
  }

  function openDowntime(o) {
    var d = document.getElementById('downtimeDialog');
    d.querySelector('.target').textContent = o.key;
    d.querySelector('.hostonly').style.display = o.kind === 'host' ? '' : 'none';
    d.returnValue = '';
    d.onclose = function () {
      if (d.returnValue !== 'ok') return;
      var f = d.querySelector('form');
      var minutes = Number(f.minutes.value);
      var now = Date.now();
      var body = { key: o.key, author: f.author.value, comment: f.comment.value, fixed: !f.flexible.checked, includeServices: o.kind === 'host' && f.services.checked, start: now, durationMs: minutes * 60000 };
      if (f.flexible.checked) body.end = now + minutes * 60000;
      // a host's downtime with its services changes many rows: then everything is fetched again
      api('POST', '/api/v1/downtimes', body, body.includeServices ? null : [o.key]);
    };
    d.showModal();
  }

  // The status in pages of PAGE objects, one request after the other: the server builds a page
  // in milliseconds and serves checks and other clients between pages, where one answer of
  // 10,000 objects held it about 0.2 s. Rendered once, when all pages are in.
  var PAGE = 500;
  function loadAll(onFirstPage) {
    var seen = {};
    var first = null;
    function next(offset) {
      return fetch('/api/v1/status?limit=' + PAGE + '&offset=' + offset, { cache: 'no-store' })
        .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
        .then(function (p) {
          var objects = p.objects;
          if (!first) { first = p; first.objects = []; }
          // an object whose rank changed between two pages may come twice: keep the first
          objects.forEach(function (o) { if (!seen[o.key]) { seen[o.key] = true; first.objects.push(o); } });
          first.summary = p.summary; first.degraded = p.degraded;
          // The first page holds the problems (problems first): show it while the rest loads.
          if (offset === 0 && p.nextOffset !== null && onFirstPage) onFirstPage({ generatedAt: first.generatedAt, title: first.title, summary: first.summary, degraded: first.degraded, objects: first.objects.slice() });
          return p.nextOffset === null ? first : next(p.nextOffset);
        });
    }
    return next(0);
  }
  var pending = null;
  var lastCost = 0;
  function refresh() {
    if (pending) return pending;
    var t0 = Date.now();
    pending = loadAll(last ? null : render)
      .then(render)
      .then(function () { if (!table.dataset.completeMs) table.dataset.completeMs = String(Math.round(performance.now())); table.dataset.complete = '1'; })
      .then(loadSilences)
      .then(function () { lastCost = Date.now() - t0; })
      .catch(function (e) { say('cannot load status: ' + e, true); })
      .then(function () { pending = null; });
    return pending;
  }

  // Only what changed: a status event names the keys; when they are few, fetch just those
  // objects, put them in place and sort again here (the same order as the server's
  // problemRank in views.ts), instead of reloading 10,000 objects for one change.
  var changedKeys = {};
  var waiting = null;
  var lastUpdateCost = 0;
  var FEW = 200;
  function rank(o) {
    if (!o.checked) return 8;
    if (o.state === 0) return 9;
    var handled = o.acknowledged || o.downtimeDepth ? 4 : 0;
    if (o.kind === 'host') return handled;
    return ({ 2: 1, 3: 2, 1: 3 }[o.state] || 3) + handled;
  }
  function sortObjects(list) {
    // rank and since computed once per object, not in every comparison (10,000 objects)
    var d = list.map(function (o) { return { o: o, r: rank(o), s: o.checked && o.state !== 0 ? o.lastStateChange : 0 }; });
    d.sort(function (a, b) { return a.r - b.r || a.s - b.s || (a.o.key < b.o.key ? -1 : a.o.key > b.o.key ? 1 : 0); });
    for (var i = 0; i < d.length; i++) list[i] = d[i].o;
  }
  function update() {
    // A full load under way may have fetched the changed objects' page before they changed:
    // keep the keys and fetch them once it is done.
    if (pending) { var again = pending.then(function () { if (again === waiting) { waiting = null; update(); } }); waiting = again; return again; }
    var keys = changedKeys ? Object.keys(changedKeys) : null;
    changedKeys = {};
    if (!last || !keys || keys.length > FEW) return refresh().then(function () { lastUpdateCost = lastCost; });
    if (!keys.length) return;
    var t0 = Date.now();
    return fetch('/api/v1/status?keys=' + encodeURIComponent(keys.join('\n')), { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (p) {
        var byKey = {};
        p.objects.forEach(function (o) { byKey[o.key] = o; });
        last.objects = last.objects.map(function (o) { var n = byKey[o.key]; delete byKey[o.key]; return n || o; });
        // an object the page did not have yet (an inventory change is a reload event, but be safe)
        Object.keys(byKey).forEach(function (k) { last.objects.push(byKey[k]); });
        var t1 = performance.now();
        sortObjects(last.objects);
        last.summary = p.summary; last.degraded = p.degraded; last.generatedAt = p.generatedAt;
        render(last);
        lastUpdateCost = Date.now() - t0;
        // for bench/overview.mjs: what the last partial update cost in the page (sort and patch)
        table.dataset.applyMs = String(Math.round(performance.now() - t1));
        table.dataset.updates = String(Number(table.dataset.updates || 0) + 1);
        // a silence's count of the objects it holds now moves with their states
        return loadSilences();
      })
      .catch(function () { return refresh(); });
  }

  var pollTimer = null;
  function startPolling() { if (!pollTimer) { pollTimer = setInterval(refresh, 10000); live.textContent = 'polling'; live.className = 'live poll'; } }
  function stopPolling() { if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } }
  var debounce = null;
  // Live updates. The browser's EventSource reconnects by itself after a dropped connection,
  // but gives up for good when the reconnect is refused (a 429 or 503 from the stream limits,
  // a proxy's 502 while the server restarts) and a phone that slept may come back with a dead
  // stream: then open a new one, with a growing pause, and catch up with a full refresh on
  // every (re)connect, since the status events sent meanwhile are lost.
  var es = null;
  var retryMs = 1000;
  var reconnectTimer = null;
  function connect() {
    reconnectTimer = null;
    if (es) es.close();
    es = new EventSource('/api/v1/events');
    es.addEventListener('open', function () { retryMs = 1000; stopPolling(); live.textContent = 'live'; live.className = 'live on'; refresh(); });
    // A big inventory makes each refresh costly: wait longer between them, in proportion.
    es.addEventListener('status', function (ev) {
      var keys = [];
      try { keys = JSON.parse(ev.data).keys || []; } catch (e) { keys = null; }
      if (keys) keys.forEach(function (k) { changedKeys[k] = true; });
      else changedKeys = null;
      // The pause grows with what the last update cost (the fetch of the changed objects and the
      // render of the whole table), so that a big inventory is not re-rendered without pause.
      if (!debounce) debounce = setTimeout(function () { debounce = null; update(); }, Math.min(10000, Math.max(250, 5 * lastUpdateCost)));
    });
    es.addEventListener('reload', refresh);
    es.addEventListener('error', function () {
      startPolling();
      if (es.readyState === EventSource.CLOSED && !reconnectTimer) {
        reconnectTimer = setTimeout(connect, retryMs);
        retryMs = Math.min(30000, retryMs * 2);
      }
    });
  }
  if (window.EventSource) connect(); else startPolling();
  // Back from sleep or a background tab: catch up at once, and revive a dead stream.
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState !== 'visible') return;
    refresh();
    if (window.EventSource && (!es || es.readyState === EventSource.CLOSED)) { clearTimeout(reconnectTimer); connect(); }
  });
  onlyProblems.addEventListener('change', function () { if (last) render(last); });
  search.addEventListener('input', function () { if (last) render(last); });
  // Durations and "ago" keep counting between refreshes: only the time cells of the rows shown.
  setInterval(function () {
    if (!last) return;
    var step = 5000;
    last.generatedAt += step;
    last.objects.forEach(function (o) { o.durationMs += step; });
    Object.keys(rowCache).forEach(function (k) { setTimes(rowCache[k], last.generatedAt); });
  }, 5000);
  // The degraded banner must appear even when nothing else changes (no status event): the
  // counts and the banner only (keys= names no object), not 10,000 objects every 30 s; the
  // event stream brings the changes, and polling reloads everything when it is down.
  setInterval(function () {
    if (pending || !last || !es || es.readyState !== EventSource.OPEN) return refresh();
    fetch('/api/v1/status?keys=', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (p) { last.summary = p.summary; last.degraded = p.degraded; renderSummary(last); })
      .catch(function () { return refresh(); });
  }, 30000);
  refresh();
})();
`;
