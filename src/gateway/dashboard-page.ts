/**
 * The dashboard's page and stylesheet. The page is a static shell: every value is filled in by
 * the page's module (src/dashboard/app.ts) with `textContent`, never as HTML.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>ordo dashboard</title>
<link rel="icon" href="/dashboard/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/dashboard.css">
<script type="module" src="/dashboard/js/dashboard/app.js"></script>
</head>
<body>
<header>
  <h1>ordo</h1>
  <span id="health" class="badge" data-testid="health">…</span>
  <span id="connection" class="muted" data-testid="connection">not connected</span>
  <button id="sign-out" type="button" hidden>Sign out</button>
</header>
<main>
  <section id="sign-in" class="card" hidden>
    <h2>Sign in</h2>
    <form id="sign-in-form">
      <label for="token">Admin or observer token</label>
      <input id="token" name="token" type="password" autocomplete="off" required>
      <button type="submit">Connect</button>
    </form>
  </section>
  <p id="message" class="message" data-testid="message" role="alert" hidden></p>
  <div id="board" hidden>
    <section class="card wide">
      <h2>Orders by status</h2>
      <div id="counts" class="counts"></div>
    </section>
    <section class="card wide">
      <h2>Throughput and p99 latency <span class="muted">(last 60 s)</span></h2>
      <div id="chart" class="chart"></div>
    </section>
    <section class="card">
      <h2>Recent order changes</h2>
      <ol id="recent" class="recent" data-testid="recent"></ol>
    </section>
    <section class="card">
      <h2>Find an order</h2>
      <form id="search-form" class="inline">
        <input id="search" type="search" placeholder="orderId" autocomplete="off" required>
        <button type="submit">Show</button>
      </form>
      <div id="order" data-testid="order"></div>
    </section>
    <section class="card">
      <h2>Busiest SKUs</h2>
      <table><thead><tr><th>SKU</th><th>on hand</th><th>reserved</th><th>available</th><th>placed</th></tr></thead>
      <tbody id="skus"></tbody></table>
    </section>
    <section class="card">
      <h2>Shards</h2>
      <table><thead><tr><th>shard</th><th>thread</th><th>mailbox</th><th title="group commits of the thread's journal, which its shards share">commits (thread)</th><th>dead letters</th><th>actors</th></tr></thead>
      <tbody id="shards" data-testid="shards"></tbody></table>
    </section>
  </div>
</main>
</body>
</html>
`;

export const DASHBOARD_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2f6fde"/><circle cx="8" cy="8" r="4" fill="none" stroke="#fff" stroke-width="2"/></svg>`;

export const DASHBOARD_CSS = `:root { --bg: #f5f6f8; --card: #fff; --ink: #1d2430; --muted: #6b7380; --line: #e2e5ea;
  --accent: #2f6fde; --warn: #c0392b; --ok: #1e8e4e; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); }
header { display: flex; align-items: center; gap: 12px; padding: 10px 20px; background: #1d2430; color: #fff; }
header h1 { font-size: 18px; margin: 0 8px 0 0; letter-spacing: .5px; }
header .muted { color: #aab2bf; }
header button { margin-left: auto; }
main { padding: 16px 20px; max-width: 1280px; margin: 0 auto; }
#board { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
#board[hidden] { display: none; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.card h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin: 0 0 10px; }
#sign-in { max-width: 420px; margin: 40px auto; }
#sign-in form { display: grid; gap: 8px; }
input, button { font: inherit; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
.inline { display: flex; gap: 8px; margin-bottom: 10px; }
.inline input { flex: 1; }
.badge { padding: 2px 8px; border-radius: 10px; background: #555; font-size: 12px; }
.badge.ready { background: var(--ok); }
.badge.bad { background: var(--warn); }
.muted { color: var(--muted); font-weight: normal; text-transform: none; letter-spacing: 0; }
.message { max-width: 640px; margin: 16px auto; padding: 10px 14px; border-radius: 6px; background: #fdecea; color: var(--warn); border: 1px solid #f5c6c1; }
.counts { display: grid; grid-template-columns: repeat(9, minmax(0, 1fr)); gap: 8px; }
.count { border: 1px solid var(--line); border-radius: 6px; padding: 8px; text-align: center; }
.count .n { display: block; font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.count .label { font-size: 11px; color: var(--muted); overflow-wrap: anywhere; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .tput { fill: none; stroke: var(--accent); stroke-width: 2; }
.chart .p99 { fill: none; stroke: #e08a00; stroke-width: 2; stroke-dasharray: 4 3; }
.chart text { font-size: 11px; fill: var(--muted); }
.legend { display: flex; gap: 16px; font-size: 12px; color: var(--muted); margin-top: 4px; }
.legend .tput::before, .legend .p99::before { content: ""; display: inline-block; width: 14px; height: 3px; margin-right: 6px; vertical-align: middle; }
.legend .tput::before { background: var(--accent); }
.legend .p99::before { background: #e08a00; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 6px; border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
th { font-size: 12px; color: var(--muted); font-weight: 500; white-space: nowrap; }
td:first-child { overflow-wrap: anywhere; }
.recent { list-style: none; margin: 0; padding: 0; max-height: 300px; overflow-y: auto; font-size: 13px; }
.recent li { display: grid; grid-template-columns: 72px minmax(0, 1fr) 130px; gap: 8px; padding: 3px 0; border-bottom: 1px solid var(--line); }
.recent .id { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: ui-monospace, monospace; }
.status { font-size: 12px; padding: 1px 6px; border-radius: 4px; background: #eef2fb; color: #244a96; justify-self: start; }
.status.cancelled { background: #fdecea; color: var(--warn); }
.status.delivered, .status.returned { background: #e7f6ed; color: var(--ok); }
.timeline { list-style: none; margin: 8px 0 0; padding: 0 0 0 14px; border-left: 2px solid var(--line); }
.timeline li { margin: 0 0 8px; position: relative; }
.timeline li::before { content: ""; position: absolute; left: -20px; top: 5px; width: 10px; height: 10px; border-radius: 50%; background: var(--accent); }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 13px; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; overflow-wrap: anywhere; }
@media (max-width: 900px) { #board { grid-template-columns: 1fr; } .counts { grid-template-columns: repeat(3, 1fr); } }
`;
