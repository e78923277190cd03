/**
 * The fleet view at scale (issue 23): a store holding ROBOTS robots × RUNS runs (every robot in every
 * run, as a sweep writes them), then `fleetmasq status` as a table, as JSON and with the HTML page and
 * its history chart, each timed as a whole command (Node's start included) with its peak memory.
 *
 *   npm run build && node dist/bench/status.js [--robots 1000] [--runs 5000] [--dir DIR] [--reuse]
 *
 * The store is written directly in the store's own schema (through Store.open, so the schema is the
 * product's), in large transactions: writing 5,000,000 results one run at a time as the CLI does would
 * take hours and is not what is measured here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Store } from '../src/store/store.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const ROBOTS = Number(arg('robots', '1000'));
const RUNS = Number(arg('runs', '5000'));
const dir = resolve(arg('dir', `/var/tmp/fleetmasq-bench-status-${ROBOTS}x${RUNS}`));
const db = join(dir, 'fleet.db');
const reuse = process.argv.includes('--reuse') && existsSync(db);
mkdirSync(dir, { recursive: true, mode: 0o700 });
const hosts = Array.from({ length: ROBOTS }, (_, i) => `robot-${String(i).padStart(4, '0')}`);
writeFileSync(join(dir, 'inventory.yml'), `all:\n  hosts:\n${hosts.map((h) => `    ${h}:\n`).join('')}`);

if (!reuse) {
  const t0 = Date.now();
  const store = await Store.open({ FLEETMASQ_STORE: db }, { importJsonl: false });
  await store.close();
  const Database = (await import('better-sqlite3')).default;
  const d = new Database(db);
  d.pragma('journal_mode = WAL');
  d.pragma('synchronous = OFF');
  const insRun = d.prepare(`INSERT INTO runs (id, command, controller, who, argv, inventory, started_at, finished_at, dry_run, asked, judged, compliant, header) VALUES (?, 'check', 'bench', 'op@bench', '["check"]', 'inventory.yml', ?, ?, 0, ?, ?, ?, '{}')`);
  const insRes = d.prepare(`INSERT INTO results (run_id, host, seq, at, command, status, state, seen_at, boot_id, body) VALUES (?, ?, ?, ?, 'check', ?, ?, ?, ?, ?)`);
  const start = Date.now() - RUNS * 600_000; // a sweep every 10 minutes
  const last = new Map<string, { at: string; state: string | null; status: string; run: string; boot: string }>();
  for (let r = 0; r < RUNS; r++) {
    d.exec('BEGIN');
    const at = new Date(start + r * 600_000).toISOString();
    const run = `bench-${String(r).padStart(6, '0')}`;
    let compliant = 0;
    let judged = 0;
    hosts.forEach((host, i) => {
      const unreachable = (i * 7 + r) % 50 === 0;
      const ok = !unreachable && (i + r) % 20 !== 0;
      const boot = `4f1c2a3b-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const status = unreachable ? 'unreachable' : ok ? 'ok' : 'failed';
      const state = unreachable ? null : ok ? 'compliant' : 'noncompliant';
      if (state) judged++;
      if (ok) compliant++;
      const body = JSON.stringify({
        host,
        status,
        ...(state ? { compliant: ok } : {}),
        changes: [],
        reasons: ok || unreachable ? [] : ['the masquerade rule is not live on wlan0'],
        warnings: [],
        diffs: [],
        details: unreachable ? {} : { interface: 'wlan0', backend: 'nft', persistence: 'systemd', bootId: boot, systemd: true, ruleCount: ok ? 1 : 0, duplicates: 0, persistenceInstalled: true, firedThisBoot: ok, managers: [], checkedAt: at },
        error: unreachable ? { kind: 'unreachable', message: 'no SSH answer within 10 s' } : null,
        startedAt: at,
        finishedAt: at,
        durationMs: 420,
      });
      insRes.run(run, host, i, at, status, state, unreachable ? null : at, unreachable ? null : boot, body);
      const prev = last.get(host);
      last.set(host, { at, state: state ?? prev?.state ?? null, status, run, boot });
    });
    insRun.run(run, at, at, ROBOTS, judged, compliant);
    d.exec('COMMIT');
    if (r % 500 === 0) process.stderr.write(`  writing the store: run ${r}/${RUNS}\n`);
  }
  const up = d.prepare(`INSERT INTO robots (host, ev_state, ev_at, ev_run, ev_command, ev_controller, seen_at, boot_id, res_at, res_run, res_command, res_status, res_controller) VALUES (?, ?, ?, ?, 'check', 'bench', ?, ?, ?, ?, 'check', ?, 'bench')`);
  d.exec('BEGIN');
  for (const [h, v] of last) up.run(h, v.state, v.at, v.run, v.at, v.boot, v.at, v.run, v.status);
  d.exec('COMMIT');
  d.pragma('wal_checkpoint(TRUNCATE)');
  d.close();
  process.stderr.write(`store written in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${(statSync(db).size / 1e9).toFixed(2)} GB\n`);
}

const bin = resolve('bin/fleetmasq.js');
const timeIt = (args: string[]) => {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, bin, 'status', '-i', join(dir, 'inventory.yml'), ...args], {
    env: { ...process.env, FLEETMASQ_STORE: db },
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const [wall, rssKb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wallS: wall!, rssMb: Math.round(rssKb! / 1024), code: r.status };
};
const results: Record<string, { wallS: number; rssMb: number; code: number | null }[]> = { table: [], json: [], html: [] };
for (let i = 0; i < 3; i++) {
  results.table!.push(timeIt([]));
  results.json!.push(timeIt(['--json']));
  results.html!.push(timeIt(['--html', join(dir, 'status.html')]));
}
const node0 = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, '-e', '0'], { encoding: 'utf8' }).stderr.trim().split(' ').map(Number);
const out = {
  date: new Date().toISOString(),
  robots: ROBOTS,
  runs: RUNS,
  results: ROBOTS * RUNS,
  storeBytes: statSync(db).size,
  node: process.version,
  cpu: execFileSync('nproc').toString().trim(),
  nodeStart: { wallS: node0[0], rssMb: Math.round(node0[1]! / 1024) },
  status: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { runs: v, maxWallS: Math.max(...v.map((x) => x.wallS)), maxRssMb: Math.max(...v.map((x) => x.rssMb)) }])),
};
console.log(JSON.stringify(out, null, 2));
