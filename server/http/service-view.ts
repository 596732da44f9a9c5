/**
 * The view of one object (GET /view?key=host/service): its perfdata graphs over a chosen
 * range (uPlot, served by this server from its npm package: the CSP stays script-src 'self'),
 * warning and critical thresholds drawn as lines, state changes, acknowledgements and
 * downtimes marked on the time axis, and its event history. The shell is rendered here with
 * the key and the server's time; the data come from /api/v1 and are put in the DOM as text.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { asset } from './assets.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function viewHtml(key: string, now: number, title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(key)} - ${escapeHtml(title)}</title>
<link rel="stylesheet" href="/vendor/uPlot.min.css">
<link rel="stylesheet" href="/view.css">
<link rel="icon" href="data:,">
</head>
<body data-key="${escapeHtml(key)}" data-now="${now}">
<header><a href="/" class="home">hawatch</a><h1>${escapeHtml(key)}</h1><span id="state" class="pill"></span><span id="live" class="live off" title="live updates">offline</span></header>
<main data-watch="${escapeHtml(JSON.stringify([key]))}" data-patch="none">
  <p id="output"></p>
  <nav id="ranges" aria-label="time range"><button data-range="1h">1 hour</button><button data-range="1d">1 day</button><button data-range="1w">1 week</button><button data-range="1y">1 year</button><span id="resolution"></span></nav>
  <div id="charts"></div>
  <p id="legend-note">Lines: <span class="k warn">warning</span> <span class="k crit">critical</span> thresholds. Marks: <span class="k mstate">state change</span> <span class="k mack">acknowledgement</span> <span class="k mdt">downtime</span></p>
  <h2>Event history</h2>
  <ol id="events"></ol>
  <p id="message" role="status"></p>
</main>
<script src="/vendor/uPlot.iife.min.js"></script>
<script src="/view.js"></script>
<script src="/live-view.js"></script>
</body>
</html>
`;
}

export const VIEW_CSS = String.raw`
:root { --ok: #2e7d32; --warn: #b58900; --crit: #c62828; --unk: #6a1b9a; --pend: #607d8b; --bg: #f6f7f9; --fg: #1d232a; }
* { box-sizing: border-box; }
html, body { max-width: 100%; overflow-x: hidden; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: .8em; padding: .6em 1em; background: #1d232a; color: #fff; flex-wrap: wrap; }
header h1 { font-size: 1.1em; margin: 0; overflow-wrap: anywhere; }
header a.home { color: #9ecbff; text-decoration: none; font-weight: 700; }
main { padding: .8em; max-width: 1400px; }
.pill { display: inline-block; padding: .05em .5em; border-radius: .3em; color: #fff; font-weight: 700; font-size: .85em; background: var(--pend); }
.pill.s0 { background: var(--ok); } .pill.s1 { background: var(--warn); } .pill.s2 { background: var(--crit); } .pill.s3 { background: var(--unk); }
#output { overflow-wrap: anywhere; }
#ranges { display: flex; gap: .4em; flex-wrap: wrap; align-items: center; margin: .4em 0 .8em; }
#ranges button { font: inherit; padding: .45em .9em; min-height: 2.6em; border: 1px solid #b8c0c8; background: #fff; border-radius: .3em; cursor: pointer; }
#ranges button.on { background: #1565c0; color: #fff; border-color: #1565c0; }
#resolution { color: #666; font-size: .85em; }
.chart { background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); margin-bottom: 1em; padding: .5em; overflow: hidden; }
.chart h3 { margin: 0 0 .3em; font-size: .95em; overflow-wrap: anywhere; }
.chart .empty { color: #666; }
.k { display: inline-block; padding: 0 .4em; border-left: 1.2em solid; margin-right: .6em; font-size: .85em; }
.k.warn { border-color: #e0a800; } .k.crit { border-color: #d32f2f; } .k.mstate { border-color: #7b1fa2; } .k.mack { border-color: #1565c0; } .k.mdt { border-color: #8d6e63; }
#legend-note { font-size: .85em; color: #444; }
#events { list-style: none; padding: 0; margin: 0; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
#events li { padding: .4em .6em; border-bottom: 1px solid #e3e6ea; overflow-wrap: anywhere; }
#events time { color: #555; font-size: .85em; margin-right: .5em; white-space: nowrap; }
#events .type { font-weight: 700; font-size: .8em; margin-right: .4em; }
#message.error { color: var(--crit); }
.u-legend { font-size: .8em; }
.live { margin-left: auto; font-size: .85em; padding: .1em .5em; border-radius: .8em; color: #fff; }
.live.on { background: var(--ok); } .live.off { background: var(--crit); } .live.poll { background: var(--warn); }
`;

export const VIEW_JS = String.raw`
'use strict';
(function () {
  var key = document.body.dataset.key;
  var serverNow = Number(document.body.dataset.now);
  var loadedAt = Date.now();
  var charts = document.getElementById('charts');
  var message = document.getElementById('message');
  var RANGES = { '1h': 3600e3, '1d': 86400e3, '1w': 7 * 86400e3, '1y': 365 * 86400e3 };
  var STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];
  var params = new URLSearchParams(location.search);
  var range = RANGES[params.get('range')] ? params.get('range') : '1d';
  var step = params.get('step') || 'auto';
  var plots = [];
  var marks = [];
  // a graph the user zoomed into (drag) is not redrawn by live updates until a double-click or a range button
  var zoomed = false;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function say(text, isError) { message.textContent = text; message.className = isError ? 'error' : ''; }
  function get(url) {
    return fetch(url, { headers: { accept: 'application/json' } }).then(function (r) {
      return r.json().then(function (b) { if (!r.ok) throw new Error(b.message || ('HTTP ' + r.status)); return b; });
    });
  }
  function now() { return serverNow + (Date.now() - loadedAt); }

  // Nagios ranges: 10, 10:, ~:10, 10:20, @10:20. The finite bounds worth a line (a start of 0 is the default, not a threshold).
  function bounds(text) {
    if (!text) return [];
    var t = String(text).replace(/^@/, '');
    var parts = t.indexOf(':') >= 0 ? t.split(':') : ['0', t];
    var out = [];
    if (parts[0] !== '~' && parts[0] !== '' && Number(parts[0]) !== 0 && isFinite(Number(parts[0]))) out.push(Number(parts[0]));
    if (parts[1] !== '' && isFinite(Number(parts[1]))) out.push(Number(parts[1]));
    return out;
  }
  // One value per x for each bound of the thresholds in force at x (they may change over time).
  function thresholdSeries(xs, thresholds, which) {
    var n = 0;
    thresholds.forEach(function (t) { n = Math.max(n, bounds(t[which]).length); });
    var lines = [];
    for (var b = 0; b < n; b++) {
      var ys = new Array(xs.length);
      var ti = 0;
      for (var i = 0; i < xs.length; i++) {
        while (ti + 1 < thresholds.length && thresholds[ti + 1].at <= xs[i] * 1000) ti++;
        var v = bounds(thresholds[ti] && thresholds[ti][which])[b];
        ys[i] = v === undefined ? null : v;
      }
      lines.push(ys);
    }
    return lines;
  }
  function unitText(s) { return s.rate ? 'per second' : s.unit; }

  var MARK_COLORS = { STATE: '#7b1fa2', ACK: '#1565c0', ACK_REMOVED: '#1565c0', DOWNTIME: '#8d6e63', FAILOVER: '#2e7d32' };
  function markPlugin() {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          var top = u.bbox.top, h = u.bbox.height;
          ctx.save();
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          marks.forEach(function (m) {
            // on a pixel centre: a crisp line of the mark's own colour, not two blended ones
            var x = Math.round(u.valToPos(m.at / 1000, 'x', true)) + 0.5;
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.strokeStyle = MARK_COLORS[m.type];
            ctx.setLineDash(m.type === 'STATE' ? [] : [4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
          });
          ctx.restore();
        }],
      },
    };
  }

  function draw(answer) {
    plots.forEach(function (p) { p.destroy(); });
    plots = [];
    charts.textContent = '';
    document.getElementById('resolution').textContent = answer.resolution === 'raw' ? 'every result' : ('per ' + answer.resolution + ': average, min and max');
    if (!answer.series.length) { charts.appendChild(el('p', 'empty', 'No perfdata stored for this range.')); }
    var t0 = performance.now();
    var points = 0;
    answer.series.forEach(function (s) {
      var box = el('section', 'chart');
      box.dataset.label = s.label;
      box.appendChild(el('h3', null, s.label + (unitText(s) ? ' (' + unitText(s) + ')' : '')));
      charts.appendChild(box);
      if (!s.points.length) { box.appendChild(el('p', 'empty', 'No values in this range.')); return; }
      points += s.points.length;
      box.dataset.last = String(s.points[s.points.length - 1][1]);
      var xs = s.points.map(function (p) { return p[0] / 1000; });
      var data = [xs, s.points.map(function (p) { return p[1]; })];
      var series = [{}, { label: answer.resolution === 'raw' ? 'value' : 'average', stroke: '#1565c0', width: 1.5 }];
      if (answer.resolution !== 'raw') {
        data.push(s.points.map(function (p) { return p[2]; }), s.points.map(function (p) { return p[3]; }));
        series.push({ label: 'min', stroke: '#90caf9', width: 1 }, { label: 'max', stroke: '#90caf9', width: 1 });
      }
      var thr = 0;
      [['warn', 'warning', '#e0a800'], ['crit', 'critical', '#d32f2f']].forEach(function (w) {
        thresholdSeries(xs, s.thresholds, w[0]).forEach(function (ys) {
          data.push(ys);
          series.push({ label: w[1], stroke: w[2], width: 1.5, dash: [6, 4], points: { show: false } });
          thr++;
        });
      });
      box.dataset.thresholds = String(thr);
      var width = Math.max(200, box.clientWidth - 16);
      var opts = {
        width: width,
        height: width < 500 ? 180 : 240,
        series: series,
        scales: { x: { time: true, min: answer.from / 1000, max: answer.to / 1000 } },
        axes: [{}, { size: 60 }],
        legend: { live: width >= 500 },
        plugins: [markPlugin(), { hooks: { setSelect: [function (u) { if (u.select.width > 0) zoomed = true; }] } }],
      };
      plots.push(new uPlot(opts, data, box));
    });
    var ms = performance.now() - t0;
    document.body.dataset.renderMs = ms.toFixed(1);
    document.body.dataset.points = String(points);
    document.body.dataset.drawn = String(Date.now());
  }

  function load() {
    var to = Math.round(now());
    var from = to - RANGES[range];
    Array.prototype.forEach.call(document.querySelectorAll('#ranges button'), function (b) { b.classList.toggle('on', b.dataset.range === range); });
    var k = encodeURIComponent(key);
    return Promise.all([
      get('/api/v1/objects/' + k + '/perfdata?from=' + from + '&to=' + to + '&step=' + encodeURIComponent(step)),
      get('/api/v1/history?key=' + k + '&limit=500'),
    ]).then(function (r) {
      marks = r[1].events.filter(function (e) { return MARK_COLORS[e.type] && e.at >= from && e.at <= to; });
      draw(r[0]);
      events(r[1].events);
      say('');
    }).catch(function (e) { say('Loading the graphs failed: ' + e.message, true); });
  }

  function events(list) {
    var ol = document.getElementById('events');
    ol.textContent = '';
    if (!list.length) ol.appendChild(el('li', null, 'No events recorded.'));
    list.forEach(function (e) {
      var li = el('li');
      li.dataset.type = e.type;
      li.appendChild(el('time', null, new Date(e.at).toLocaleString()));
      li.appendChild(el('span', 'type', e.type.replace('_', ' ')));
      if (e.type === 'STATE') li.appendChild(el('span', 'pill s' + e.state, STATES[e.state] || e.state));
      li.appendChild(document.createTextNode(' ' + (e.detail ? e.detail + ': ' : '') + e.output));
      ol.appendChild(li);
    });
  }

  function status() {
    return get('/api/v1/objects/' + encodeURIComponent(key)).then(function (r) {
      var s = document.getElementById('state');
      s.textContent = r.status.stateName;
      s.className = 'pill' + (r.status.checked ? ' s' + r.status.state : '');
      document.getElementById('output').textContent = r.status.output;
    }).catch(function (e) { say(e.message, true); });
  }

  document.getElementById('ranges').addEventListener('click', function (ev) {
    var b = ev.target.closest('button');
    if (!b) return;
    range = b.dataset.range;
    params.set('range', range);
    history.replaceState(null, '', '?' + params.toString());
    zoomed = false;
    load();
  });
  charts.addEventListener('dblclick', function () { zoomed = false; });
  // Live (live-view.js fires hawatch:update when this object changed, after a reconnect and when
  // a sleeping phone shows the page again): the state, the graphs over the range ending now and
  // the events, one refresh at a time, at most one every 2 s (10 s for a week or a year).
  var busy = false, again = false, lastAt = Date.now(), timer = null;
  function refresh() {
    if (busy) { again = true; return; }
    var wait = lastAt + (range === '1h' || range === '1d' ? 2000 : 10000) - Date.now();
    if (wait > 0) { if (!timer) timer = setTimeout(function () { timer = null; refresh(); }, wait); return; }
    busy = true; lastAt = Date.now();
    var work = [status()];
    if (!zoomed) work.push(load());
    else work.push(get('/api/v1/history?key=' + encodeURIComponent(key) + '&limit=500').then(function (r) { events(r.events); }));
    Promise.all(work).catch(function () {}).then(function () {
      busy = false;
      document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
      if (again) { again = false; refresh(); }
    });
  }
  document.addEventListener('hawatch:update', refresh);
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      plots.forEach(function (p) { var w = Math.max(200, p.root.parentNode.clientWidth - 16); p.setSize({ width: w, height: w < 500 ? 180 : 240 }); });
    }, 150);
  });
  status();
  load();
})();
`;

export function registerServiceView(app: FastifyInstance): void {
  const h = () => app.hawatch;
  const text = (type: string, body: () => string) => async (_req: unknown, reply: { header: (k: string, v: string) => unknown }) => {
    reply.header('content-type', type);
    reply.header('cache-control', 'no-cache');
    return body();
  };
  app.get('/view', {
    schema: { hide: true, querystring: Type.Object({ key: Type.String({ minLength: 1 }), range: Type.Optional(Type.String()), step: Type.Optional(Type.String()) }) },
  }, async (req, reply) => {
    const { key } = req.query as { key: string };
    if (!h().monitor.object(key)) {
      void reply.status(404).header('content-type', 'text/plain; charset=utf-8');
      return `no host or service ${key} in the inventory\n`;
    }
    void reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache');
    return viewHtml(key, h().clock.now(), h().monitor.inventory.server.title);
  });
  app.get('/view.js', { schema: { hide: true } }, text('text/javascript; charset=utf-8', () => VIEW_JS));
  app.get('/view.css', { schema: { hide: true } }, text('text/css; charset=utf-8', () => VIEW_CSS));
  // The chart library, from its npm package (carried beside the bundle by the build).
  const immutable = (type: string, pkg: string, file: string) => async (_req: unknown, reply: { header: (k: string, v: string) => unknown }) => {
    reply.header('content-type', type);
    reply.header('cache-control', 'public, max-age=86400');
    return asset(pkg, file);
  };
  app.get('/vendor/uPlot.iife.min.js', { schema: { hide: true } }, immutable('text/javascript; charset=utf-8', 'uplot', 'dist/uPlot.iife.min.js'));
  app.get('/vendor/uPlot.min.css', { schema: { hide: true } }, immutable('text/css; charset=utf-8', 'uplot', 'dist/uPlot.min.css'));
}
