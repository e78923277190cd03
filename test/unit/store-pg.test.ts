/**
 * The shared store on a real PostgreSQL server (started here, as the lab starts robots): the same
 * semantics as SQLite, and two controllers at once lose nothing. Skipped only outside CI when the
 * server binaries are absent; CI installs them (.ci/run).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { cli } from '../helpers/cli.js';
import { postgresBin, startPostgres, type PgServer } from '../helpers/postgres.js';
import { twoControllers } from '../helpers/store.js';

const available = Boolean(postgresBin());
if (!available && process.env.CI) throw new Error('CI must run the PostgreSQL store tests: install postgresql');
const opts = { skip: available ? false : 'PostgreSQL server binaries not installed (apt-get install postgresql)' };

let pg: PgServer | undefined;
before(async () => {
  if (available) pg = await startPostgres();
});
after(() => pg?.stop());

test('PostgreSQL store: status, config and newest evidence across two controllers, password never shown', opts, async () => {
  const url = pg!.url;
  const env = { FLEETMASQ_STORE: url };
  const d = mkdtempSync(join(tmpdir(), 'fmpgc-'));
  const inv = join(d, 'hosts.yml');
  writeFileSync(inv, 'all:\n  hosts:\n    r1:\n    r2:\n');
  const store = await Store.open(env);
  try {
    assert.equal(store.db.kind, 'postgres');
    const t = (s: number) => new Date(Date.now() - 600_000 + s * 1000).toISOString();
    const res = (host: string, at: string, o: object) => ({ host, status: 'ok' as const, changes: [], reasons: [], warnings: [], diffs: [], error: null, finishedAt: at, details: { checkedAt: at }, ...o });
    for (const [ctl, host, at, o, command] of [
      ['a', 'r1', t(0), { compliant: false }, 'check'],
      ['b', 'r1', t(10), { compliant: true }, 'apply'],
      ['a', 'r2', t(20), { removed: true }, 'remove'],
      ['a', 'r1', t(5), { compliant: false }, 'check'],
    ] as const) {
      const rec = await store.startRun({ command, dryRun: false, header: { who: 'op@x', argv: [], inventory: inv, version: '0', startedAt: at } }, { FLEETMASQ_CONTROLLER: ctl });
      rec.add(res(host, at, o));
      await rec.finish();
    }
    const st = await store.fleet(['r1', 'r2'], new Date());
    assert.deepEqual(st.robots.map((r) => [r.host, r.state, r.evidence?.controller]), [['r1', 'compliant', 'b'], ['r2', 'removed', 'a']]);
  } finally {
    await store.close();
  }
  const s = await cli(['status', '-i', inv, '--json'], env);
  assert.equal(s.json.robots[0].state, 'compliant');
  assert.match(s.json.store, /^postgres:\/\/fleetmasq@127\.0\.0\.1:\d+\/postgres$/);
  // A password in the URL is never printed.
  const withPw = url.replace('fleetmasq@', 'fleetmasq:s3cret@');
  const c = await cli(['config', '--json'], { FLEETMASQ_STORE: withPw });
  assert.doesNotMatch(c.stdout, /s3cret/);
  assert.match(c.stdout, /postgres:\/\/fleetmasq@127\.0\.0\.1/);
});

test('two controllers at once on one PostgreSQL store lose nothing (two processes, 50 runs each)', opts, async () => {
  await twoControllers({ FLEETMASQ_STORE: pg!.url });
});
