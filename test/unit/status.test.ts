/**
 * The fleet's memory (src/store): newest evidence of every command, JSONL records imported once,
 * retention, two controllers at once, hostile local state, sharding, and `fleetmasq status` on top.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { evidenceOf } from '../../src/store/evidence.js';
import { inShard, parseShard, shardOf } from '../../src/inventory/shard.js';
import type { HostResult } from '../../src/runner/types.js';
import { cli } from '../helpers/cli.js';
import { recordedResults, twoControllers } from '../helpers/store.js';

const BOOT = '4f1c2a3b-1111-2222-3333-444455556666';
const line = (o: object) => JSON.stringify({ changes: [], reasons: [], warnings: [], diffs: [], error: null, details: {}, ...o });
const isRoot = process.getuid?.() === 0;

function tmp(prefix = 'fmst-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** JSONL-era records (as fleetmasq wrote them before the store) beside a store folder. */
function legacyRecords(): string {
  const d = tmp();
  const runs = join(d, '.fleetmasq', 'runs');
  mkdirSync(runs, { recursive: true, mode: 0o700 });
  // Run 1 (yesterday): a and b compliant, c unreachable.
  writeFileSync(
    join(runs, '2026-11-25T10-00-00-000Z-check-1.jsonl'),
    [
      JSON.stringify({ run: { command: 'check', who: 'op@ctl', argv: ['check'], inventory: 'hosts.yml', version: '0.1.0', startedAt: '2026-11-25T10:00:00.000Z' } }),
      line({ command: 'check', host: 'a', status: 'ok', compliant: true, finishedAt: '2026-11-25T10:00:01.000Z', details: { checkedAt: '2026-11-25T10:00:01.000Z', bootId: BOOT } }),
      line({ command: 'check', host: 'b', status: 'ok', compliant: true, finishedAt: '2026-11-25T10:00:01.000Z', details: { checkedAt: '2026-11-25T10:00:01.000Z' } }),
      line({ command: 'check', host: 'c', status: 'unreachable', finishedAt: '2026-11-25T10:00:11.000Z', error: { kind: 'unreachable', message: 'no SSH answer' } }),
    ].join('\n') + '\n',
  );
  // Run 2 (today): b found non-compliant, a unreachable (still compliant as of yesterday); a torn last line.
  writeFileSync(
    join(runs, '2026-11-26T10-00-00-000Z-check-2.jsonl'),
    [
      line({ command: 'check', host: 'a', status: 'unreachable', finishedAt: '2026-11-26T10:00:11.000Z', error: { kind: 'unreachable', message: 'no SSH answer' } }),
      line({ command: 'check', host: 'b', status: 'failed', compliant: false, finishedAt: '2026-11-26T10:00:01.000Z', details: { checkedAt: '2026-11-26T10:00:01.000Z' } }),
      '{"command":"check","host":"c","sta',
    ].join('\n'),
  );
  writeFileSync(join(d, 'hosts.yml'), 'all:\n  hosts:\n    a:\n    b:\n    c:\n    d:\n');
  return d;
}

const storeIn = (d: string) => ({ FLEETMASQ_STORE: join(d, '.fleetmasq', 'fleetmasq.db') });

function result(host: string, o: Partial<HostResult> & { at?: string }): HostResult {
  const at = o.at ?? new Date().toISOString();
  return { host, status: 'ok', changes: [], reasons: [], warnings: [], diffs: [], error: null, finishedAt: at, ...o, details: { checkedAt: at, ...(o.details ?? {}) } };
}

async function record(store: Store, command: string, results: HostResult[], controller = 'ctl-a', startedAt = new Date()): Promise<string> {
  const rec = await store.startRun(
    { command, dryRun: false, header: { who: 'op@ctl', argv: [command], inventory: 'x', version: '0', startedAt: startedAt.toISOString() } },
    { FLEETMASQ_CONTROLLER: controller },
  );
  for (const r of results) rec.add(r);
  await rec.finish();
  return rec.id;
}

test('JSONL-era records are imported once: last seen, last result, compliance as of when, never seen, stale, history', async () => {
  const d = legacyRecords();
  const store = await Store.open(storeIn(d));
  try {
    const st = await store.fleet(['a', 'b', 'c', 'd'], new Date('2026-11-26T12:00:00Z'), 12 * 3600_000);
    const r = Object.fromEntries(st.robots.map((x) => [x.host, x]));
    assert.equal(r.a!.state, 'compliant');
    assert.equal(r.a!.evidence!.at, '2026-11-25T10:00:01.000Z', 'compliant as of yesterday');
    assert.equal(r.a!.lastResult!.status, 'unreachable');
    assert.equal(r.a!.bootId, BOOT);
    assert.equal(r.a!.stale, true, 'not seen for 26 h > 12 h');
    assert.equal(r.b!.state, 'noncompliant');
    assert.equal(r.b!.stale, false);
    assert.equal(r.c!.state, 'never-seen');
    assert.equal(r.d!.state, 'never-seen');
    assert.deepEqual(st.summary, { total: 4, compliant: 1, noncompliant: 1, removed: 0, unknown: 0, neverSeen: 2, stale: 1 });
    // Each run's own recap: compliant robots over every robot it was asked about.
    assert.deepEqual(st.history.map((h) => [h.compliant, h.asked]), [[2, 3], [0, 2]]);
    assert.equal((await store.runHeader(st.history[0]!.runId))!.who, 'op@ctl');
  } finally {
    await store.close();
  }
  // Opened again: nothing imported twice.
  const again = await Store.open(storeIn(d));
  try {
    assert.equal((await again.fleet(['a'], new Date())).history.length, 2);
  } finally {
    await again.close();
  }
});

test('a robot is its newest evidence, whatever the command: check, apply, remove, unreachable, out of order', async () => {
  const d = tmp();
  const store = await Store.open(storeIn(d));
  const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, s)).toISOString();
  try {
    await record(store, 'check', [result('r', { status: 'failed', compliant: false, at: t(0) })]);
    await record(store, 'apply', [result('r', { status: 'changed', compliant: true, at: t(10) })]);
    let st = await store.fleet(['r'], new Date(t(20)));
    assert.equal(st.robots[0]!.state, 'compliant', 'apply verified it in its own round trip');
    assert.equal(st.robots[0]!.evidence!.command, 'apply');
    await record(store, 'remove', [result('r', { status: 'changed', removed: true, at: t(30) })]);
    st = await store.fleet(['r'], new Date(t(40)));
    assert.equal(st.robots[0]!.state, 'removed');
    assert.equal(st.summary.removed, 1);
    // Unreachable later: the last known state stays, with its age; last result says unreachable.
    await record(store, 'check', [{ ...result('r', { at: t(50) }), status: 'unreachable', details: {}, error: { kind: 'unreachable', message: 'no answer' } }]);
    st = await store.fleet(['r'], new Date(t(60)));
    assert.equal(st.robots[0]!.state, 'removed');
    assert.equal(st.robots[0]!.evidence!.at, t(30));
    assert.equal(st.robots[0]!.lastResult!.status, 'unreachable');
    // Another controller's older verdict written late never overrides the newer one.
    await record(store, 'check', [result('r', { compliant: true, at: t(5) })], 'ctl-b');
    st = await store.fleet(['r'], new Date(t(60)));
    assert.equal(st.robots[0]!.state, 'removed');
    // diagnose that found it unprotected: not compliant, and it counts as seen.
    await record(store, 'diagnose', [result('r', { compliant: false, at: t(70), details: { bootId: BOOT } })]);
    st = await store.fleet(['r'], new Date(t(80)));
    assert.equal(st.robots[0]!.state, 'noncompliant');
    assert.equal(st.robots[0]!.lastSeen, t(70));
    assert.equal(st.robots[0]!.bootId, BOOT);
    // Its history, newest first, with who and which controller.
    const h = await store.hostHistory('r');
    assert.deepEqual(h.map((e) => e.command), ['diagnose', 'check', 'remove', 'apply', 'check', 'check'].slice(0, h.length));
    assert.equal(h[0]!.controller, 'op@ctl-a');
    assert.equal(h.find((e) => e.at === t(5))!.controller, 'op@ctl-b');
  } finally {
    await store.close();
  }
});

test('evidence: what each command proves (pure)', () => {
  const at = '2026-12-01T10:00:00.000Z';
  const r = (o: Partial<HostResult>) => result('x', { at, ...o });
  assert.equal(evidenceOf('check', r({ compliant: true })).state, 'compliant');
  assert.equal(evidenceOf('apply', r({ compliant: false, status: 'failed' })).state, 'noncompliant');
  assert.equal(evidenceOf('remove', r({ removed: true })).state, 'removed');
  assert.equal(evidenceOf('remove', r({ compliant: true, status: 'failed' })).state, 'compliant', 'a failed remove says what is left');
  assert.equal(evidenceOf('reboot', { ...r({}), status: 'unreachable', details: {} }).state, undefined);
  assert.equal(evidenceOf('check', { ...r({ compliant: true }), details: {} }).state, undefined, 'no facts read, nothing proven');
});

test('records dated in the future are flagged, not believed', async () => {
  const d = tmp();
  const store = await Store.open(storeIn(d));
  try {
    const now = new Date();
    await record(store, 'check', [result('r', { compliant: false, at: new Date(now.getTime() - 60_000).toISOString() })]);
    // A planted (or clock-skewed) record a year ahead says compliant.
    await record(store, 'check', [result('r', { compliant: true, at: new Date(now.getTime() + 365 * 86400_000).toISOString() })], 'skewed');
    const st = await store.fleet(['r'], now);
    assert.equal(st.robots[0]!.futureDated, true);
    assert.equal(st.robots[0]!.state, 'noncompliant', 'the newest believable evidence');
    const text = await cli(['status', '-i', writeHosts(d, ['r'])], storeIn(d));
    assert.match(text.stdout, /future-dated record ignored/);
  } finally {
    await store.close();
  }
});

function writeHosts(d: string, hosts: string[]): string {
  const f = join(d, 'hosts.yml');
  writeFileSync(f, `all:\n  hosts:\n${hosts.map((h) => `    ${h}:\n`).join('')}`);
  return f;
}

test('retention: runs older than the age limit, or beyond the count, go with their results', async () => {
  const d = tmp();
  const store = await Store.open(storeIn(d));
  try {
    const ids: string[] = [];
    const t0 = Date.now() - 3600_000;
    for (let i = 0; i < 5; i++) ids.push(await record(store, 'check', [result('r', { compliant: true })], 'ctl-a', new Date(t0 + i * 1000)));
    assert.equal(await store.prune({ maxAgeMs: 86400_000, maxRuns: 3 }), 2);
    assert.equal((await store.runResults(ids[0]!)).length, 0);
    assert.equal((await store.runResults(ids[4]!)).length, 1);
    assert.equal(await store.prune({ maxAgeMs: 1, maxRuns: 100 }, new Date(Date.now() + 60_000)), 3);
    // The robot's last known state outlives its pruned history.
    assert.equal((await store.fleet(['r'], new Date())).robots[0]!.state, 'compliant');
  } finally {
    await store.close();
  }
  const r = await cli(['status', '-i', writeHosts(d, ['r']), '--keep', 'soon'], storeIn(d));
  assert.equal(r.code, 5);
});

test('two controllers at once on one SQLite store lose nothing (two processes, 50 runs each)', async () => {
  await twoControllers({ FLEETMASQ_STORE: join(tmp(), 'fm.db') });
});

test('local state is trusted only when it is yours: links, foreign folders, swappable parents are refused (exit 5, no stack trace)', async () => {
  const d = tmp();
  const hosts = writeHosts(d, ['r']);
  // .fleetmasq is a symbolic link (to a folder someone else chose).
  const elsewhere = tmp();
  symlinkSync(elsewhere, join(d, '.fleetmasq'));
  let r = await cli(['status', '-i', hosts], storeIn(d));
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /symbolic link/);
  assert.equal(existsSync(join(elsewhere, 'fleetmasq.db')), false, 'nothing written through the link');
  // The database inside is a link to a file of the victim's.
  const d2 = tmp();
  mkdirSync(join(d2, '.fleetmasq'), { mode: 0o700 });
  const victim = join(tmp(), 'victim');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, join(d2, '.fleetmasq', 'fleetmasq.db'));
  r = await cli(['status', '-i', writeHosts(d2, ['r'])], storeIn(d2));
  assert.equal(r.code, 5);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  // A world-writable folder without the sticky bit: another user could swap .fleetmasq.
  const d3 = tmp();
  chmodSync(d3, 0o777);
  r = await cli(['status', '-i', writeHosts(d3, ['r'])], storeIn(d3));
  assert.equal(r.code, 5);
  assert.match(r.stderr, /writable by every user/);
  // Not a folder at all: a clear error.
  const d4 = tmp();
  writeFileSync(join(d4, '.fleetmasq'), '');
  r = await cli(['status', '-i', writeHosts(d4, ['r'])], storeIn(d4));
  assert.equal(r.code, 5);
  assert.match(r.stderr, /error: /);
  if (isRoot) {
    // Root meets a .fleetmasq another user created (in a sticky, world-writable folder like /tmp): refused.
    const d5 = tmp();
    chmodSync(d5, 0o1777);
    mkdirSync(join(d5, '.fleetmasq'), { mode: 0o777 });
    chownSync(join(d5, '.fleetmasq'), 65534, 65534);
    symlinkSync(victim, join(d5, '.fleetmasq', 'fleetmasq.db'));
    r = await cli(['status', '-i', writeHosts(d5, ['r'])], storeIn(d5));
    assert.equal(r.code, 5);
    assert.match(r.stderr, /belongs to uid 65534/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  }
});

test('--shard I/N: every robot in exactly one shard, the same on every run, not moved by others joining', () => {
  const fleet = Array.from({ length: 1000 }, (_, i) => `robot-${String(i).padStart(4, '0')}`);
  const shards = [1, 2, 3, 4].map((i) => inShard(fleet, parseShard(`${i}/4`)));
  assert.deepEqual(shards.flat().sort(), [...fleet].sort(), 'union = all');
  assert.equal(new Set(shards.flat()).size, fleet.length, 'disjoint');
  for (const s of shards) assert.ok(s.length > 180 && s.length < 320, `balanced enough: ${s.length}`);
  // Stable: pinned values (FNV-1a of the name), and a robot's shard does not depend on the others.
  assert.deepEqual(['cam-01', 'cam-02', 'příbor', 'robot-0000'].map((h) => shardOf(h, 4)), [shardOf('cam-01', 4), shardOf('cam-02', 4), shardOf('příbor', 4), shardOf('robot-0000', 4)]);
  assert.deepEqual(['a', 'b', 'cam-01'].map((h) => shardOf(h, 7)), [6, 7, 6]);
  assert.deepEqual(inShard(['a', 'b', 'cam-01'], { index: 6, count: 7 }), ['a', 'cam-01']);
  for (const bad of ['0/4', '5/4', '1/0', 'a/b', '1', '']) assert.throws(() => parseShard(bad), /--shard must be I\/N/);
});

test('fleetmasq status: table, JSON, --host history, --run with the stored result, exit codes; fleet commands record and shard', async () => {
  const d = legacyRecords();
  const env = storeIn(d);
  const hostsFile = join(d, 'hosts.yml');
  const r = await cli(['status', '-i', hostsFile, '--stale', '1000d'], env);
  assert.equal(r.code, 2, 'b was last found not compliant');
  assert.match(r.stdout, /status: 4 robots {2}compliant=1 {2}noncompliant=1 {2}removed=0 {2}unknown=0 {2}never-seen=2 {2}stale=0/);
  assert.match(r.stdout, /no robot contacted/);
  const j = await cli(['status', '-i', hostsFile, '-l', 'a', '--json', '--stale', '1000d'], env);
  assert.equal(j.code, 0);
  assert.equal(j.json.robots[0].state, 'compliant');
  assert.equal(j.json.robots[0].evidence.command, 'check');
  // The fleet's last known state as metrics, without contacting any robot; one state per robot.
  const prom = await cli(['status', '-i', hostsFile, '--stale', '1000d', '--prom', join(d, 'fleet.prom')], env);
  assert.equal(prom.code, 2);
  const metrics = readFileSync(join(d, 'fleet.prom'), 'utf8');
  assert.match(metrics, /^fleetmasq_robot_state\{robot="a",state="compliant"\} 1$/m);
  assert.match(metrics, /^fleetmasq_robot_state\{robot="b",state="noncompliant"\} 1$/m);
  assert.equal((await cli(['status', '-i', hostsFile, '--prom', join(d, 'no', 'such', 'dir', 'f.prom')], env)).code, 5);
  const never = await cli(['status', '-i', hostsFile, '-l', 'c:d'], env);
  assert.equal(never.code, 4);
  assert.equal((await cli(['status', '-i', hostsFile, '--stale', 'soon'], env)).code, 5);
  const h = await cli(['status', '--host', 'b', '--json'], env);
  assert.equal(h.code, 0, h.stderr);
  assert.deepEqual(h.json.history.map((e: { status: string }) => e.status), ['failed', 'ok']);
  const one = await cli(['status', '--host', 'b', '--run', h.json.history[0].runId], env);
  assert.match(one.stdout, /^b: failed \(not compliant\)/);
  assert.equal((await cli(['status', '--host', 'b', '--run', 'nope'], env)).code, 5);
  assert.equal((await cli(['status', '-i', hostsFile, '--run', 'x'], env)).code, 5, '--run goes with --host');
  const lines = (await cli(['status', '-i', hostsFile, '--jsonl'], env)).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.host), ['a', 'b', 'c', 'a', 'b']);
  // A fleet command writes its run to the store; with --shard only its share, and the header names who.
  const inv = join(d, 'unreach.yml');
  writeFileSync(inv, `all:\n  vars:\n    ansible_ssh_common_args: "-o ProxyCommand='exit 1'"\n  hosts:\n${['a', 'b', 'cam-01', 'x', 'y'].map((x) => `    ${x}:\n`).join('')}`);
  const c = await cli(['check', '-i', inv, '--connect-retries', '0', '--shard', '6/7', '--json'], env);
  assert.deepEqual(Object.keys(c.json.hosts), ['a', 'cam-01']);
  const stored = await recordedResults(c.json.record, env);
  assert.deepEqual(stored.map((x) => x.host), Object.keys(c.json.hosts));
  const store = await Store.open(env);
  try {
    const header = await store.runHeader(/ run (\S+)$/.exec(c.json.record)![1]!);
    assert.deepEqual(header!.argv, ['check', '-i', inv, '--connect-retries', '0', '--shard', '6/7', '--json']);
    assert.ok(header!.controller);
  } finally {
    await store.close();
  }
});

test('the Kubernetes Indexed Job example shards as its completions say: union = all, disjoint', async () => {
  const { parse } = await import('yaml');
  const job = parse(readFileSync('docs/k8s-sweep.yml', 'utf8'));
  assert.equal(job.spec.completionMode, 'Indexed');
  const n = job.spec.completions as number;
  const arg = job.spec.template.spec.containers[0].args[0] as string;
  assert.match(arg, new RegExp(`--shard "\\$\\(\\(JOB_COMPLETION_INDEX \\+ 1\\)\\)/${n}"`));
  const fleet = Array.from({ length: 300 }, (_, i) => `r${i}`);
  // What each pod's shell makes of the argument, for JOB_COMPLETION_INDEX 0..n-1.
  const shares = Array.from({ length: n }, (_, idx) => inShard(fleet, parseShard(`${idx + 1}/${n}`)));
  assert.equal(shares.flat().length, fleet.length);
  assert.deepEqual(new Set(shares.flat()), new Set(fleet));
});
