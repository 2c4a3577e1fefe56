import { test } from 'uvu';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer } from './helpers/server.js';

/** docs/grafana-dashboard.json queries only series that /metrics exposes. */

interface Dashboard {
  uid: string;
  panels: { id: number; title: string; targets: { expr: string }[] }[];
}

/** Series names of a Prometheus text exposition, with a histogram's _bucket/_sum/_count. */
function seriesOf(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, kind] = m as unknown as [string, string, string];
    names.add(name);
    if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (kind === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

test('every series a panel queries is one the server exposes, and every gateway series has a panel', async () => {
  const dash = JSON.parse(await readFile(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
  assert.equal(dash.uid, 'ordo-overview');
  assert.equal(new Set(dash.panels.map((p) => p.id)).size, dash.panels.length, 'panel ids are unique');
  const srv = await startServer();
  try {
    const res = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
    assert.equal(res.status, 200);
    const exposed = seriesOf(await res.text());
    assert.ok(exposed.has('ordo_commands_total') && exposed.has('ordo_command_duration_seconds_bucket'), 'the parse finds the series');
    const queried = new Set<string>();
    for (const p of dash.panels) {
      assert.ok(p.targets.length > 0, `${p.title} has a query`);
      for (const t of p.targets) for (const m of t.expr.matchAll(/\bordo_[a-z0-9_]+/g)) queried.add(m[0]);
    }
    const missing = [...queried].filter((s) => !exposed.has(s));
    assert.deepEqual(missing, [], `queried but not exposed: ${missing.join(', ')}`);
    // The series ordo defines itself (not prom-client's process and nodejs defaults) all appear.
    const own = [...exposed].filter((s) => !/^ordo_(process|nodejs)_/.test(s) && !/_(sum|count)$/.test(s) && !(s.endsWith('_seconds') && exposed.has(`${s}_bucket`)));
    const unshown = own.filter((s) => !queried.has(s));
    assert.deepEqual(unshown, [], `exposed but on no panel: ${unshown.join(', ')}`);
  } finally {
    await srv.destroy();
  }
});

test.run();
