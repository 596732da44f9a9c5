/**
 * The host view (GET /host?name=H) and the cluster view (GET /cluster?key=cluster/RULE), the way
 * an HA admin looks at things: one host with its services and their values readable; one cluster
 * rule with its members side by side, each with the roles its perfdata reports (holds the VIP,
 * primary or standby, the rule's role gauge), the rule's judgement line, and the replication lag
 * of every member on one uPlot graph. Rendered here as HTML (every text escaped), no inline
 * script: the CSP stays script-src 'self'; the graph script reads the series to fetch from data
 * attributes and puts text in the DOM with textContent only.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Monitor } from '../core/monitor.ts';
import type { ClusterRuleConfig } from '../inventory/types.ts';
import type { CheckStatus } from '../state/types.ts';
import { stateLabel } from '../state/types.ts';
import { globRegExp } from '../state/cluster.ts';
import { parsePerfdata, type ParsedPerfdata } from '../../nagios/perfdata.ts';
import { readableItem } from './perf-format.ts';
import { sortProblemsFirst } from './views.ts';
import { LIVE_VIEW_JS } from './live-view.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function stateName(s: CheckStatus | undefined): string {
  if (!s || !s.checked) return 'PENDING';
  return stateLabel(s.kind, s.state);
}

function pill(s: CheckStatus | undefined): string {
  const n = stateName(s);
  return `<span class="pill st-${esc(n)}">${esc(n)}</span>`;
}

function perfList(text: string): string {
  const items = parsePerfdata(text).items;
  if (!items.length) return '';
  return `<ul class="perf">${items.map((p) => `<li>${esc(readableItem(p).text)}</li>`).join('')}</ul>`;
}

function shell(title: string, body: string, opts: { charts?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
${opts.charts ? '<link rel="stylesheet" href="/vendor/uPlot.min.css">\n' : ''}<link rel="stylesheet" href="/views.css">
<link rel="icon" href="data:,">
</head>
<body>
${body}
${opts.charts ? '<script src="/vendor/uPlot.iife.min.js"></script>\n<script src="/cluster.js"></script>\n' : ''}<script src="/live-view.js"></script>
</body>
</html>
`;
}

/** Live updates state (live-view.ts sets it): live, polling or offline. */
const LIVE = '<span id="live" class="live off" title="live updates">offline</span>';
const viewLink = (key: string, text: string) => `<a href="/view?key=${encodeURIComponent(key)}">${esc(text)}</a>`;
const hostLink = (name: string) => `<a href="/host?name=${encodeURIComponent(name)}">${esc(name)}</a>`;

export function hostViewHtml(m: Monitor, name: string, title: string): string {
  const host = m.status(name);
  const services = sortProblemsFirst(m.allStatuses().filter((s) => s.kind === 'service' && s.hostName === name));
  const rules = [...m.inventory.clusterRules.values()].filter((r) => r.members.some((x) => x.hostName === name));
  const rows = services.map((s) => {
    const o = m.object(s.key);
    const link = o?.kind === 'cluster' ? `<a href="/cluster?key=${encodeURIComponent(s.key)}">${esc(s.serviceName ?? s.key)}</a>` : viewLink(s.key, s.serviceName ?? s.key);
    const problem = s.checked && s.state !== 0;
    return `<li class="svc${problem ? ' problem' : ''}" data-key="${esc(s.key)}"><div class="line">${pill(s)} <span class="name">${link}</span></div><div class="out">${esc(s.output)}</div>${perfList(s.perfdata)}</li>`;
  });
  const hostConf = m.inventory.hosts.get(name);
  return shell(`${name} - ${title}`, `<header><a href="/" class="home">hawatch</a><h1>${esc(name)}</h1>${pill(host)}${LIVE}</header>
<main data-watch="${esc(JSON.stringify([name, ...rules.map((r) => r.key)]))}" data-watch-prefix="${esc(name)}/">
  <p class="meta">${esc(hostConf?.address ?? '')}${host?.output ? ` - ${esc(host.output)}` : ''}</p>
  ${rules.length ? `<p class="rules">Cluster rules: ${rules.map((r) => `<a href="/cluster?key=${encodeURIComponent(r.key)}">${esc(r.name)}</a>`).join(', ')}</p>` : ''}
  <h2>Services <span class="count">${services.length}</span></h2>
  <ul id="services" class="cards">${rows.join('\n') || '<li>No services.</li>'}</ul>
</main>`);
}

/** Roles a member reports, from its perfdata: VIP holder, primary or standby, the rule's own role gauge. */
export function memberRoles(items: readonly ParsedPerfdata[], rule: ClusterRuleConfig): string[] {
  const roles: string[] = [];
  const ruleGlob = rule.judge.kind === 'role' ? globRegExp(rule.judge.role) : rule.match.kind === 'perfdata' ? globRegExp(rule.match.label) : null;
  for (const p of items) {
    if (p.value === 'U' || p.label.includes('@')) continue; // label@peer: a node's view of a peer, not its own role
    const l = p.label.toLowerCase();
    if (/vip|virtual_ip/.test(l)) roles.push(p.value >= 1 ? 'holds the VIP' : 'no VIP');
    else if (/primary|master|promoted|leader/.test(l)) roles.push(p.value >= 1 ? 'primary' : 'standby');
    else if (ruleGlob?.test(p.label)) roles.push(`${p.label} ${p.value}`);
  }
  return [...new Set(roles)];
}

const LAG = /(^|_)lag$/i;

export function clusterViewHtml(m: Monitor, rule: ClusterRuleConfig, title: string, now: number): string {
  const rs = m.status(rule.key);
  const lagSeries: { key: string; label: string; host: string }[] = [];
  const cards = rule.members.map((mem) => {
    const s = m.status(mem.key);
    const items = s ? parsePerfdata(s.perfdata).items : [];
    const roles = memberRoles(items, rule);
    for (const p of items) if (LAG.test(p.label)) lagSeries.push({ key: mem.key, label: p.label, host: mem.hostName });
    return `<section class="member${s && s.checked && s.state !== 0 ? ' problem' : ''}" data-key="${esc(mem.key)}">
  <h2>${hostLink(mem.hostName)}</h2>
  <div class="line">${pill(s)} ${viewLink(mem.key, mem.serviceName)}</div>
  <div class="roles">${roles.map((r) => `<span class="role${/^(holds the VIP|primary)$/.test(r) ? ' main' : ''}">${esc(r)}</span>`).join(' ') || '<span class="role none">no role reported</span>'}</div>
  <div class="out">${esc(s?.output ?? '')}</div>
  ${perfList(s?.perfdata ?? '')}
</section>`;
  });
  const lag = lagSeries.length
    ? `<h2>Replication lag</h2><div id="lag" class="chart" data-series="${esc(JSON.stringify(lagSeries))}" data-now="${now}"></div>`
    : '';
  return shell(`${rule.key} - ${title}`, `<header><a href="/" class="home">hawatch</a><h1>${esc(rule.name)}</h1>${pill(rs)}${LIVE}</header>
<main data-watch="${esc(JSON.stringify([rule.key, ...rule.members.flatMap((x) => [x.key, x.hostName])]))}">
  <p id="judgement" class="judgement j-${esc(stateName(rs))}">${esc(rs?.output ?? 'not judged yet')}</p>
  <p class="meta">${esc(rule.description || rule.kindName)} - ${rule.members.length} members</p>
  <div id="members" class="members">${cards.join('\n')}</div>
  ${lag}
  <p id="message" role="status"></p>
</main>`, { charts: lagSeries.length > 0 });
}

export const VIEWS_CSS = String.raw`
:root { --ok: #2e7d32; --warn: #b58900; --crit: #c62828; --unk: #6a1b9a; --pend: #607d8b; --bg: #f6f7f9; --fg: #1d232a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: .8em; padding: .6em 1em; background: #1d232a; color: #fff; flex-wrap: wrap; }
header h1 { font-size: 1.15em; margin: 0; overflow-wrap: anywhere; }
header a.home { color: #9ecbff; text-decoration: none; font-weight: 700; }
main { padding: .8em; max-width: 1400px; }
h2 { font-size: 1.02em; margin: 1em 0 .4em; }
a { color: #1565c0; }
.pill { display: inline-block; padding: .05em .5em; border-radius: .3em; color: #fff; font-weight: 700; font-size: .85em; background: var(--pend); }
.st-OK, .st-UP { background: var(--ok); } .st-WARNING { background: var(--warn); } .st-CRITICAL, .st-DOWN, .st-UNREACHABLE { background: var(--crit); } .st-UNKNOWN { background: var(--unk); }
.judgement { font-size: 1.05em; font-weight: 600; background: #fff; padding: .6em .8em; border-left: .4em solid var(--pend); overflow-wrap: anywhere; }
.judgement.j-OK { border-left-color: var(--ok); } .judgement.j-WARNING { border-left-color: var(--warn); } .judgement.j-CRITICAL { border-left-color: var(--crit); background: #fdecec; } .judgement.j-UNKNOWN { border-left-color: var(--unk); }
.meta { color: #555; overflow-wrap: anywhere; }
.members { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 18em), 1fr)); gap: .8em; }
.member, .cards > li { background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); padding: .6em .8em; overflow-wrap: anywhere; min-width: 0; }
.member.problem, .cards > li.problem { border-left: .3em solid var(--crit); }
.member h2 { margin: 0 0 .3em; }
.roles { margin: .4em 0; display: flex; flex-wrap: wrap; gap: .3em; }
.role { display: inline-block; padding: .1em .5em; border-radius: .8em; background: #e3e6ea; font-size: .85em; font-weight: 600; }
.role.main { background: #1565c0; color: #fff; }
.role.none { color: #666; font-weight: 400; }
.out { color: #333; }
ul.perf { margin: .3em 0 0; padding-left: 1.1em; font-size: .85em; color: #333; }
.cards { list-style: none; padding: 0; margin: 0; display: grid; gap: .5em; }
.cards .line { display: flex; gap: .5em; align-items: center; flex-wrap: wrap; }
.count { color: #666; font-weight: 400; }
.chart { background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); padding: .5em; overflow: hidden; min-height: 4em; }
#message.error { color: var(--crit); }
.u-legend { font-size: .8em; }
.live { margin-left: auto; font-size: .85em; padding: .1em .5em; border-radius: .8em; color: #fff; }
.live.on { background: var(--ok); } .live.off { background: var(--crit); } .live.poll { background: var(--warn); }
`;

/**
 * The lag graph: every member's *_lag series over the last day, joined on one time axis. Live:
 * live-view.js fires `hawatch:update` when a watched object changed (and after a reconnect or
 * a sleeping phone), and the graph is fetched again and its data replaced (one fetch at a time,
 * at most one every 2 s), the time axis ending at the server's time now.
 */
export const CLUSTER_JS = String.raw`
'use strict';
(function () {
  var box = document.getElementById('lag');
  if (!box || !window.uPlot) return;
  var series = JSON.parse(box.dataset.series);
  var COLORS = ['#1565c0', '#c62828', '#2e7d32', '#6a1b9a', '#ef6c00'];
  // the server's time (a test's clock may differ from the browser's), moved on by the browser's
  var serverNow = Number(box.dataset.now) || Date.now(), loadedAt = Date.now();
  function now() { return serverNow + (Date.now() - loadedAt); }
  var plot = null, busy = false, again = false, lastAt = 0, timer = null;
  function fetchLag() {
    var to = now(), from = to - 86400e3;
    return Promise.all(series.map(function (s) {
      return fetch('/api/v1/objects/' + encodeURIComponent(s.key) + '/perfdata?label=' + encodeURIComponent(s.label) + '&from=' + Math.round(from) + '&to=' + Math.round(to))
        .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); });
    })).then(function (answers) {
      var tables = answers.map(function (a) {
        var pts = (a.series && a.series[0] && a.series[0].points) || [];
        return [pts.map(function (p) { return p[0] / 1000; }), pts.map(function (p) { return p[1]; })];
      });
      var data = uPlot.join(tables);
      // from the first stored point when there is less than a day: the lag is what matters, not an empty axis
      var first = data[0].length ? Math.max(from / 1000, data[0][0]) : from / 1000;
      return { data: data, min: first, max: to / 1000 };
    });
  }
  function draw(d) {
    var had = !!plot;
    if (had) {
      plot.setData(d.data, false);
      plot.setScale('x', { min: d.min, max: d.max });
    } else {
      var width = Math.max(200, box.clientWidth - 16);
      plot = new uPlot({
        width: width,
        height: width < 500 ? 180 : 240,
        scales: { x: { time: true, min: d.min, max: d.max } },
        // room for labels such as 10:45am: the default spacing let them run together
        axes: [{ space: 90 }, { size: 60, values: function (u, vals) { return vals.map(function (v) { return v + ' s'; }); } }],
        series: [{}].concat(series.map(function (s, i) { return { label: s.host + ' ' + s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }; })),
      }, d.data, box);
    }
    box.dataset.drawn = String(series.length);
    box.dataset.points = String(d.data[0].length);
    // each member's newest value (for tests and people reading the DOM)
    box.dataset.last = JSON.stringify(d.data.slice(1).map(function (ys) { for (var i = ys.length - 1; i >= 0; i--) if (ys[i] !== null && ys[i] !== undefined) return ys[i]; return null; }));
    if (had) box.dataset.redrawn = String(Number(box.dataset.redrawn || 0) + 1);
  }
  function update() {
    if (busy) { again = true; return; }
    var wait = lastAt + 2000 - Date.now();
    if (wait > 0) { if (!timer) timer = setTimeout(function () { timer = null; update(); }, wait); return; }
    busy = true; lastAt = Date.now();
    fetchLag().then(draw).catch(function (e) {
      var m = document.getElementById('message');
      m.textContent = 'Loading the lag graph failed: ' + e.message;
      m.className = 'error';
    }).then(function () { busy = false; if (again) { again = false; update(); } });
  }
  update();
  document.addEventListener('hawatch:update', update);
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { if (plot) { var w = Math.max(200, box.clientWidth - 16); plot.setSize({ width: w, height: w < 500 ? 180 : 240 }); } }, 150);
  });
})();
`;

export function registerHostClusterViews(app: FastifyInstance): void {
  const h = () => app.hawatch;
  const notFound = (reply: { status: (n: number) => { header: (k: string, v: string) => unknown } }, text: string) => {
    void reply.status(404).header('content-type', 'text/plain; charset=utf-8');
    return `${text}\n`;
  };
  app.get('/host', { schema: { hide: true, querystring: Type.Object({ name: Type.String({ minLength: 1 }) }) } }, async (req, reply) => {
    const { name } = req.query as { name: string };
    if (!h().monitor.inventory.hosts.has(name)) return notFound(reply, `no host ${name} in the inventory`);
    void reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache');
    return hostViewHtml(h().monitor, name, h().monitor.inventory.server.title);
  });
  app.get('/cluster', { schema: { hide: true, querystring: Type.Object({ key: Type.String({ minLength: 1 }) }) } }, async (req, reply) => {
    const { key } = req.query as { key: string };
    const rule = h().monitor.inventory.clusterRules.get(key) ?? [...h().monitor.inventory.clusterRules.values()].find((r) => r.name === key);
    if (!rule) return notFound(reply, `no cluster rule ${key} in the inventory (give its key, cluster/NAME)`);
    void reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache');
    return clusterViewHtml(h().monitor, rule, h().monitor.inventory.server.title, h().clock.now());
  });
  const text = (type: string, body: string) => async (_req: unknown, reply: { header: (k: string, v: string) => unknown }) => {
    reply.header('content-type', type);
    reply.header('cache-control', 'no-cache');
    return body;
  };
  app.get('/views.css', { schema: { hide: true } }, text('text/css; charset=utf-8', VIEWS_CSS));
  app.get('/cluster.js', { schema: { hide: true } }, text('text/javascript; charset=utf-8', CLUSTER_JS));
  app.get('/live-view.js', { schema: { hide: true } }, text('text/javascript; charset=utf-8', LIVE_VIEW_JS));
}
