/**
 * Live host and cluster views (issue 15): the same event stream as the overview. A status event
 * naming a key this view shows (main[data-watch] lists them, main[data-watch-prefix] covers a
 * host's services) makes the script fetch the same page again and patch it in place: the
 * header's state, the judgement and the counts, and the keyed cards (li[data-key] of the host
 * view, section.member[data-key] of the cluster view): a card whose HTML is unchanged keeps its
 * DOM node, a changed one is replaced, the order follows the server's (problems first). Each
 * refresh also fires `hawatch:update` on the document, on which the graphs (the cluster view's
 * lag graph, the service view) fetch their data again; a view whose main has data-patch="none"
 * (the service view: its shell carries no data) is not fetched itself. The server renders the HTML (every text escaped) and DOMParser runs no
 * script, so the CSP stays script-src 'self'. Like the overview: reconnect with a growing pause
 * when EventSource gives up (a refused reconnect, a phone back from sleep), catch up on every
 * (re)connect, poll while the stream is down.
 */
export const LIVE_VIEW_JS = String.raw`
'use strict';
(function () {
  var main = document.querySelector('main[data-watch]');
  var live = document.getElementById('live');
  if (!main || !live) return;
  var watch = {};
  JSON.parse(main.dataset.watch).forEach(function (k) { watch[k] = true; });
  var prefix = main.dataset.watchPrefix || null;
  function wanted(keys) {
    return keys.some(function (k) { return watch[k] || (prefix !== null && k.indexOf(prefix) === 0); });
  }
  function setLive(text, cls) { live.textContent = text; live.className = 'live ' + cls; }

  // Cards by data-key: keep the node of an unchanged card, replace a changed one, follow the
  // new order, drop the ones gone.
  function patchList(oldBox, newBox) {
    var old = {};
    Array.prototype.forEach.call(oldBox.children, function (c) { if (c.dataset.key !== undefined) old[c.dataset.key] = c; });
    var want = Array.prototype.map.call(newBox.children, function (n) {
      var o = n.dataset.key !== undefined ? old[n.dataset.key] : undefined;
      return o && o.outerHTML === n.outerHTML ? o : document.importNode(n, true);
    });
    var keep = new Set(want);
    Array.prototype.slice.call(oldBox.children).forEach(function (c) { if (!keep.has(c)) oldBox.removeChild(c); });
    var cur = oldBox.firstChild;
    want.forEach(function (n) {
      while (cur && cur.nodeType !== 1) cur = cur.nextSibling;
      if (cur === n) cur = cur.nextSibling;
      else oldBox.insertBefore(n, cur);
    });
  }
  function patchText(doc, sel) {
    var a = document.querySelector(sel), b = doc.querySelector(sel);
    if (a && b && a.outerHTML !== b.outerHTML) a.replaceWith(document.importNode(b, true));
  }

  var pending = null, again = false;
  function refresh() {
    if (pending) { again = true; return pending; }
    document.dispatchEvent(new CustomEvent('hawatch:update'));
    if (main.dataset.patch === 'none') {
      main.dataset.updates = String(Number(main.dataset.updates || 0) + 1);
      return Promise.resolve();
    }
    pending = fetch(location.href, { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        ['header .pill', '#judgement', 'main .meta', 'main .rules', 'main h2 .count'].forEach(function (s) { patchText(doc, s); });
        ['#services', '#members'].forEach(function (s) {
          var a = document.querySelector(s), b = doc.querySelector(s);
          if (a && b) patchList(a, b);
        });
        main.dataset.updates = String(Number(main.dataset.updates || 0) + 1);
      })
      .catch(function (e) {
        var m = document.getElementById('message');
        if (m) { m.textContent = 'Cannot refresh this view: ' + e.message; m.className = 'error'; }
      })
      .then(function () { pending = null; if (again) { again = false; refresh(); } });
    return pending;
  }

  var pollTimer = null;
  function startPolling() { if (!pollTimer) { pollTimer = setInterval(refresh, 10000); setLive('polling', 'poll'); } }
  function stopPolling() { if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } }
  var es = null, retryMs = 1000, reconnectTimer = null, debounce = null;
  function connect() {
    reconnectTimer = null;
    if (es) es.close();
    es = new EventSource('/api/v1/events');
    // (re)connected: what changed while the stream was down is lost, catch up
    es.addEventListener('open', function () { retryMs = 1000; stopPolling(); setLive('live', 'on'); refresh(); });
    es.addEventListener('status', function (ev) {
      var keys = null;
      try { keys = JSON.parse(ev.data).keys || []; } catch (e) { keys = null; }
      if (keys && !wanted(keys)) return;
      if (!debounce) debounce = setTimeout(function () { debounce = null; refresh(); }, 250);
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
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState !== 'visible') return;
    refresh();
    if (window.EventSource && (!es || es.readyState === EventSource.CLOSED)) { clearTimeout(reconnectTimer); connect(); }
  });
})();
`;
