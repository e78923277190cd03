/** status from the run records alone: per robot state, stale and never-seen robots, history, rotation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRecordFile, readRecords } from '../../src/records/records.js';
import { fleetStatus } from '../../src/records/status.js';
import { parseDuration } from '../../src/util/duration.js';
import { cli } from '../helpers/cli.js';

const BOOT = '4f1c2a3b-1111-2222-3333-444455556666';
const line = (o: object) => JSON.stringify({ changes: [], reasons: [], warnings: [], diffs: [], error: null, details: {}, ...o });

function records(): string {
  const d = mkdtempSync(join(tmpdir(), 'fmrec-'));
  const runs = join(d, 'runs');
  mkdirSync(runs);
  // Run 1 (yesterday): a and b compliant, c unreachable.
  writeFileSync(join(runs, '2026-11-25T10-00-00-000Z-check-1.jsonl'), [
    line({ command: 'check', host: 'a', status: 'ok', compliant: true, finishedAt: '2026-11-25T10:00:01.000Z', details: { checkedAt: '2026-11-25T10:00:01.000Z', bootId: BOOT } }),
    line({ command: 'check', host: 'b', status: 'ok', compliant: true, finishedAt: '2026-11-25T10:00:01.000Z', details: { checkedAt: '2026-11-25T10:00:01.000Z' } }),
    line({ command: 'check', host: 'c', status: 'unreachable', finishedAt: '2026-11-25T10:00:11.000Z', error: { kind: 'unreachable', message: 'no SSH answer' } }),
  ].join('\n') + '\n');
  // Run 2 (today): b found non-compliant, a unreachable (still compliant as of yesterday); a torn last line.
  writeFileSync(join(runs, '2026-11-26T10-00-00-000Z-check-2.jsonl'), [
    line({ command: 'check', host: 'a', status: 'unreachable', finishedAt: '2026-11-26T10:00:11.000Z', error: { kind: 'unreachable', message: 'no SSH answer' } }),
    line({ command: 'check', host: 'b', status: 'failed', compliant: false, finishedAt: '2026-11-26T10:00:01.000Z', details: { checkedAt: '2026-11-26T10:00:01.000Z' } }),
    '{"command":"check","host":"c","sta',
  ].join('\n'));
  writeFileSync(join(d, 'hosts.yml'), 'all:\n  hosts:\n    a:\n    b:\n    c:\n    d:\n');
  return d;
}

test('status from records: last seen, last result, compliance as of when, never seen, stale, history', () => {
  const d = records();
  const st = fleetStatus(readRecords(join(d, 'runs')), ['a', 'b', 'c', 'd'], new Date('2026-11-26T12:00:00Z'), parseDuration('12h', 'x'));
  const r = Object.fromEntries(st.robots.map((x) => [x.host, x]));
  assert.equal(r.a!.state, 'compliant');
  assert.equal(r.a!.compliance!.at, '2026-11-25T10:00:01.000Z', 'compliant as of yesterday');
  assert.equal(r.a!.lastResult!.status, 'unreachable');
  assert.equal(r.a!.bootId, BOOT);
  assert.equal(r.a!.stale, true, 'not seen for 26 h > 12 h');
  assert.equal(r.b!.state, 'noncompliant');
  assert.equal(r.b!.stale, false);
  assert.equal(r.c!.state, 'never-seen');
  assert.equal(r.d!.state, 'never-seen');
  assert.deepEqual(st.summary, { total: 4, compliant: 1, noncompliant: 1, unknown: 0, neverSeen: 2, stale: 1 });
  assert.deepEqual(st.history.map((h) => [h.compliant, h.total]), [[2, 2], [0, 1]]);
});

test('fleetmasq status answers from the records alone: table, JSON, HTML chart, exit codes', async () => {
  const d = records();
  const env = { FLEETMASQ_RUNS_DIR: join(d, 'runs') };
  const r = await cli(['status', '-i', join(d, 'hosts.yml'), '--stale', '1000d', '--html', join(d, 's.html')], env);
  assert.equal(r.code, 2, 'b was last found not compliant');
  assert.match(r.stdout, /status: 4 robots {2}compliant=1 {2}noncompliant=1 {2}unknown=0 {2}never-seen=2 {2}stale=0/);
  assert.match(r.stdout, /no robot contacted/);
  const j = await cli(['status', '-i', join(d, 'hosts.yml'), '-l', 'a', '--json'], env);
  assert.equal(j.code, 0);
  assert.equal(j.json.robots[0].state, 'compliant');
  const { readFileSync } = await import('node:fs');
  const html = readFileSync(join(d, 's.html'), 'utf8');
  assert.match(html, /<svg id="history"/);
  assert.equal((html.match(/<circle /g) ?? []).length, 2, 'one point per judged run');
  const never = await cli(['status', '-i', join(d, 'hosts.yml'), '-l', 'c:d'], env);
  assert.equal(never.code, 4);
  const bad = await cli(['status', '-i', join(d, 'hosts.yml'), '--stale', 'soon'], env);
  assert.equal(bad.code, 5);
});

test('run records stay bounded: a new run removes the oldest beyond the limit', () => {
  const d = mkdtempSync(join(tmpdir(), 'fmrot-'));
  for (let i = 0; i < 5; i++) writeFileSync(join(d, `2026-11-2${i}T00-00-00-000Z-check-1.jsonl`), '');
  const f = newRecordFile(d, 'check', 3);
  writeFileSync(f, '');
  const left = readdirSync(d).sort();
  assert.equal(left.length, 3);
  assert.deepEqual(left.slice(0, 2), ['2026-11-23T00-00-00-000Z-check-1.jsonl', '2026-11-24T00-00-00-000Z-check-1.jsonl']);
});

test('audit: every run record starts with who ran what (user@controller, the command line, the inventory and its hash, the version)', async () => {
  const { createHash } = await import('node:crypto');
  const { readFileSync } = await import('node:fs');
  const { hostname } = await import('node:os');
  const d = mkdtempSync(join(tmpdir(), 'fmaud-'));
  writeFileSync(join(d, 'hosts.yml'), `all:\n  vars:\n    ansible_ssh_common_args: "-o ProxyCommand='exit 1'"\n  hosts:\n    r1:\n`);
  const r = await cli(['check', '-i', join(d, 'hosts.yml'), '--connect-retries', '0', '--json'], { FLEETMASQ_RUNS_DIR: join(d, 'runs') });
  const first = JSON.parse(readFileSync(r.json.record, 'utf8').split('\n')[0]!);
  assert.equal(first.run.command, 'check');
  assert.match(first.run.who, new RegExp(`@${hostname().replace(/[.]/g, '\\.')}$`));
  assert.deepEqual(first.run.argv, ['check', '-i', join(d, 'hosts.yml'), '--connect-retries', '0', '--json']);
  assert.equal(first.run.inventorySha256, createHash('sha256').update(readFileSync(join(d, 'hosts.yml'))).digest('hex'));
  assert.equal(first.run.version, JSON.parse(readFileSync('package.json', 'utf8')).version);
  // The header is not a robot: status and readers skip it.
  assert.deepEqual(readRecords(join(d, 'runs'))[0]!.lines.map((l) => l.host), ['r1']);
});
