/**
 * The dashboard's page, style sheet and script, served as they are: no framework, no build step
 * and nothing from another origin, so the page works offline and under a strict CSP. The script
 * is plain ES2017 in a string; it only uses textContent and DOM methods, never innerHTML, so no
 * function or server name can inject markup.
 */

/** The page at `/`. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gearmanode dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>gearmanode dashboard</h1>
  <p id="summary">waiting for the first refresh…</p>
  <p id="connection" class="connecting" data-state="connecting">connecting…</p>
</header>
<main>
  <section>
    <h2>Servers</h2>
    <table id="servers">
      <thead><tr><th>Server</th><th>State</th><th class="n">Functions</th><th class="n">Workers</th><th class="n">Connections</th><th class="n">Answer (ms)</th><th>Error</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Functions</h2>
    <table id="functions">
      <thead><tr><th>Server</th><th>Function</th><th class="n">Queued</th><th class="n">High</th><th class="n">Normal</th><th class="n">Low</th><th class="n">Running</th><th class="n">Workers</th><th>Queue depth</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-functions" class="empty">No functions yet.</p>
  </section>
  <section>
    <h2>Workers</h2>
    <table id="workers">
      <thead><tr><th>Server</th><th class="n">FD</th><th>IP</th><th>ID</th><th>Functions</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-workers" class="empty">No workers connected.</p>
  </section>
</main>
</body>
</html>
`;

/** The style sheet at `/dashboard.css`. */
export const PAGE_CSS = `:root {
  color-scheme: light dark;
  --fg: #1d2430; --muted: #5b6573; --bg: #f7f8fa; --card: #ffffff; --line: #dde1e6;
  --down-bg: #fde2e1; --down-fg: #a1160a; --up: #137333; --spark: #1a73e8;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e3e6ea; --muted: #9aa4b1; --bg: #15181d; --card: #1d2128; --line: #323842;
    --down-bg: #4a1512; --down-fg: #ffb4ab; --up: #81c995; --spark: #8ab4f8;
  }
}
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0 1.5rem; padding: 0.75rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--card); }
h1 { font-size: 1.1rem; margin: 0; }
h2 { font-size: 0.95rem; margin: 1.25rem 0 0.5rem; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
header p { margin: 0; color: var(--muted); }
#connection.live { color: var(--up); }
#connection.lost { color: var(--down-fg); }
main { padding: 0 1.25rem 1.5rem; }
table { border-collapse: collapse; background: var(--card); border: 1px solid var(--line); min-width: 50%; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { font-weight: 600; color: var(--muted); }
.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.down td { background: var(--down-bg); color: var(--down-fg); }
td.state-up { color: var(--up); font-weight: 600; }
td.state-down { font-weight: 600; }
.empty { color: var(--muted); }
.empty[hidden] { display: none; }
svg.spark { display: block; }
svg.spark polyline { fill: none; stroke: var(--spark); stroke-width: 1.5; }
svg.spark line { stroke: var(--line); stroke-width: 1; }
`;

/** The script at `/dashboard.js`. */
export const PAGE_JS = String.raw`(function () {
  'use strict';
  var SPARK_WIDTH = 120;
  var SPARK_HEIGHT = 24;
  var SVG = 'http://www.w3.org/2000/svg';
  var limit = 120;
  var history = Object.create(null);

  function key(server, name) { return server + '\n' + name; }

  function plural(count, word) { return count + ' ' + word + (count === 1 ? '' : 's'); }

  function cell(row, text, className, field) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    if (field) td.setAttribute('data-field', field);
    row.appendChild(td);
    return td;
  }

  function fill(table, rows) {
    var old = table.tBodies[0];
    var body = document.createElement('tbody');
    rows.forEach(function (row) { body.appendChild(row); });
    table.replaceChild(body, old);
  }

  function sparkline(samples) {
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', String(SPARK_WIDTH));
    svg.setAttribute('height', String(SPARK_HEIGHT));
    svg.setAttribute('viewBox', '0 0 ' + SPARK_WIDTH + ' ' + SPARK_HEIGHT);
    var max = Math.max.apply(null, [1].concat(samples));
    var base = document.createElementNS(SVG, 'line');
    base.setAttribute('x1', '0');
    base.setAttribute('x2', String(SPARK_WIDTH));
    base.setAttribute('y1', String(SPARK_HEIGHT - 1));
    base.setAttribute('y2', String(SPARK_HEIGHT - 1));
    svg.appendChild(base);
    if (samples.length > 0) {
      // The line spans the width with whatever history there is, up to the full window.
      var step = SPARK_WIDTH / Math.max(1, samples.length - 1);
      var offset = SPARK_WIDTH - step * (samples.length - 1);
      var points = samples.map(function (value, i) {
        var x = offset + step * i;
        var y = SPARK_HEIGHT - 1 - (value / max) * (SPARK_HEIGHT - 3);
        return x.toFixed(1) + ',' + y.toFixed(1);
      });
      if (points.length === 1) points.push((SPARK_WIDTH).toFixed(1) + ',' + points[0].split(',')[1]);
      var line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', points.join(' '));
      svg.appendChild(line);
    }
    var title = document.createElementNS(SVG, 'title');
    title.textContent = 'queued jobs, last ' + samples.length + ' refreshes, max ' + Math.max.apply(null, [0].concat(samples));
    svg.appendChild(title);
    svg.setAttribute('data-samples', samples.join(','));
    return svg;
  }

  function record(state) {
    var seen = Object.create(null);
    state.servers.forEach(function (server) {
      server.functions.forEach(function (fn) {
        var k = key(server.server, fn.functionName);
        var samples = history[k] || (history[k] = []);
        samples.push(fn.queued);
        if (samples.length > limit) samples.splice(0, samples.length - limit);
        seen[k] = true;
      });
      if (!server.up) {
        // A server that did not answer keeps its functions' history as it was.
        Object.keys(history).forEach(function (k) {
          if (k.indexOf(server.server + '\n') === 0) seen[k] = true;
        });
      }
    });
    Object.keys(history).forEach(function (k) { if (!seen[k]) delete history[k]; });
  }

  function render(state) {
    var servers = state.servers;
    var functionRows = [];
    var workerRows = [];
    var totals = { queued: 0, running: 0, workers: 0, down: 0, functions: 0 };
    var serverRows = servers.map(function (server) {
      var tr = document.createElement('tr');
      tr.className = server.up ? 'up' : 'down';
      tr.setAttribute('data-server', server.server);
      tr.setAttribute('data-up', String(server.up));
      cell(tr, server.server, '', 'server');
      cell(tr, server.up ? 'up' : 'down', server.up ? 'state-up' : 'state-down', 'state');
      cell(tr, server.up ? String(server.functions.length) : '-', 'n', 'functions');
      cell(tr, server.up ? String(server.workers.length) : '-', 'n', 'workers');
      cell(tr, server.up ? String(server.connections) : '-', 'n', 'connections');
      cell(tr, server.durationMs.toFixed(1), 'n', 'duration');
      cell(tr, server.error || '', '', 'error');
      if (!server.up) totals.down++;
      server.functions.slice().sort(function (a, b) {
        return a.functionName < b.functionName ? -1 : a.functionName > b.functionName ? 1 : 0;
      }).forEach(function (fn) {
        totals.functions++;
        totals.queued += fn.queued;
        totals.running += fn.running;
        var row = document.createElement('tr');
        row.setAttribute('data-server', server.server);
        row.setAttribute('data-function', fn.functionName);
        var p = fn.priority;
        cell(row, server.server, '', 'server');
        cell(row, fn.functionName, '', 'function');
        cell(row, String(fn.queued), 'n', 'queued');
        cell(row, p ? String(p.high) : '-', 'n', 'high');
        cell(row, p ? String(p.normal) : '-', 'n', 'normal');
        cell(row, p ? String(p.low) : '-', 'n', 'low');
        cell(row, String(fn.running), 'n', 'running');
        cell(row, String(fn.workers), 'n', 'workers');
        cell(row, '', '', 'sparkline').appendChild(sparkline(history[key(server.server, fn.functionName)] || []));
        functionRows.push(row);
      });
      server.workers.forEach(function (worker) {
        totals.workers++;
        var row = document.createElement('tr');
        row.setAttribute('data-server', server.server);
        cell(row, server.server, '', 'server');
        cell(row, String(worker.fd), 'n', 'fd');
        cell(row, worker.ip, '', 'ip');
        cell(row, worker.clientId || '-', '', 'id');
        cell(row, worker.functions.join(' '), '', 'functions');
        workerRows.push(row);
      });
      return tr;
    });
    fill(document.getElementById('servers'), serverRows);
    fill(document.getElementById('functions'), functionRows);
    fill(document.getElementById('workers'), workerRows);
    document.getElementById('no-functions').hidden = functionRows.length > 0;
    document.getElementById('no-workers').hidden = workerRows.length > 0;
    var summary = document.getElementById('summary');
    summary.textContent =
      plural(servers.length, 'server') +
      (totals.down > 0 ? ' (' + totals.down + ' down)' : '') + ' · ' +
      plural(totals.functions, 'function') + ' · ' + totals.queued + ' queued · ' +
      totals.running + ' running · ' + plural(totals.workers, 'worker') + ' · ' +
      new Date(state.at).toLocaleTimeString();
    summary.setAttribute('data-at', String(state.at));
    summary.setAttribute('data-queued', String(totals.queued));
  }

  function connection(state, text) {
    var node = document.getElementById('connection');
    node.className = state;
    node.setAttribute('data-state', state);
    node.textContent = text;
  }

  var source = new EventSource('events');
  source.addEventListener('snapshot', function (event) {
    var state = JSON.parse(event.data);
    limit = state.historyLength || limit;
    history = Object.create(null);
    Object.keys(state.history || {}).forEach(function (k) { history[k] = state.history[k].slice(); });
    render(state);
  });
  source.addEventListener('update', function (event) {
    var state = JSON.parse(event.data);
    record(state);
    render(state);
  });
  source.addEventListener('open', function () { connection('live', 'live'); });
  source.addEventListener('error', function () { connection('lost', 'connection lost, retrying…'); });
})();
`;
