/** Prometheus metrics (issue 14): the textfile format promtool accepts, bounded labels, written atomically. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promText } from '../../src/report/prom.js';
import { fleetPromText } from '../../src/report/fleet-prom.js';
import type { FleetStatus } from '../../src/store/types.js';
import type { HostResult } from '../../src/runner/types.js';
import { run } from '../../src/util/proc.js';
import { cli } from '../helpers/cli.js';

const hasPromtool = (await run('promtool', ['--version'], { nothrow: true }).catch(() => undefined))?.ok ?? false;
/** promtool is part of the suite: CI installs it (.ci/run: Debian's prometheus), so there its absence fails; locally it is skipped. */
const promtoolSkip = !hasPromtool && !process.env.CI && "promtool not installed (.ci/run installs Debian's prometheus)";
const promtool = async (args: string[], input?: string) => {
  assert.ok(hasPromtool, 'promtool is required under CI');
  return run('promtool', args, { nothrow: true, ...(input === undefined ? {} : { input }) });
};

const base = { changes: [], reasons: [], warnings: [], diffs: [], error: null };
const results: HostResult[] = [
  { ...base, host: 'cam-01', status: 'ok', compliant: true, details: { interface: 'wlan0', persistence: 'systemd', ruleCount: 1, duplicates: 0, firedThisBoot: true, checkedAt: '2026-11-26T04:00:00.000Z' } },
  { ...base, host: 'cam-02', status: 'failed', compliant: false, details: { interface: 'wlan0', persistence: 'systemd', ruleCount: 3, duplicates: 2, firedThisBoot: false, checkedAt: '2026-11-26T04:00:01.000Z' } },
  { ...base, host: 'arm "7"\\x', status: 'unreachable', details: {}, error: { kind: 'unreachable', message: 'no answer' } },
];

test('metrics: per robot and for the fleet, labels escaped, groups on one info series', async () => {
  const text = await promText(results, { command: 'check', checkMode: false, inventory: 'hosts.yml', startedAt: new Date('2026-11-26T03:59:58Z') }, (h) => (h === 'cam-01' ? ['mifi', 'cams'] : []), new Date('2026-11-26T04:00:02Z'));
  assert.match(text, /^fleetmasq_robot_compliant\{robot="cam-01"\} 1$/m);
  assert.match(text, /^fleetmasq_robot_compliant\{robot="cam-02"\} 0$/m);
  assert.doesNotMatch(text, /fleetmasq_robot_compliant\{robot="arm/, 'an unreachable robot is not judged');
  assert.match(text, /^fleetmasq_robot_reachable\{robot="arm \\"7\\"\\\\x"\} 0$/m);
  assert.match(text, /^fleetmasq_robot_rule_duplicates\{robot="cam-02"\} 2$/m);
  assert.match(text, /^fleetmasq_robot_fired_this_boot\{robot="cam-01"\} 1$/m);
  assert.match(text, new RegExp(`^fleetmasq_robot_last_check_timestamp_seconds\\{robot="cam-01"\\} ${Date.parse('2026-11-26T04:00:00Z') / 1000}$`, 'm'));
  assert.match(text, /^fleetmasq_robot_info\{robot="cam-01",groups="cams,mifi",interface="wlan0",persistence="systemd"\} 1$/m);
  assert.match(text, /^fleetmasq_check_robots\{state="compliant"\} 1$/m);
  assert.match(text, /^fleetmasq_check_robots\{state="unknown"\} 1$/m);
  // Each robot in exactly one state, no `total` beside them: sum() is the check's robots.
  const states = [...text.matchAll(/^fleetmasq_check_robots\{state="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]);
  assert.deepEqual(states, [['compliant', 1], ['noncompliant', 1], ['unknown', 1]]);
  assert.equal(states.reduce((a, [, n]) => a + Number(n), 0), results.length);
  assert.doesNotMatch(text, /fleetmasq_fleet_robots/, 'the name of the fleet view (status --prom): both files can sit in one textfile folder');
  assert.match(text, /^fleetmasq_check_duration_seconds\{command="check"\} 4$/m);
  if (hasPromtool || process.env.CI) {
    const r = await promtool(['check', 'metrics'], text);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  }
});

test('check --prom writes the file whole (no temp file left), also when robots are unreachable', async () => {
  const d = mkdtempSync(join(tmpdir(), 'fmprom-'));
  writeFileSync(join(d, 'hosts.yml'), 'all:\n  children:\n    mifi:\n      hosts:\n        r1: {ansible_host: 127.0.0.1, ansible_port: 9}\n');
  const file = join(d, 'fleetmasq.prom');
  const r = await cli(['check', '-i', join(d, 'hosts.yml'), '--prom', file, '--connect-retries', '0', '--connect-timeout', '2']);
  assert.equal(r.code, 4, r.stderr);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^fleetmasq_robot_reachable\{robot="r1"\} 0$/m);
  assert.match(text, /^fleetmasq_robot_info\{robot="r1",groups="mifi",interface="",persistence=""\} 1$/m);
  assert.deepEqual(readdirSync(d).sort(), ['fleetmasq.prom', 'hosts.yml'], 'no temporary file left beside it');
  const bad = await cli(['check', '-i', join(d, 'hosts.yml'), '--prom', '/nonexistent/x.prom']);
  assert.equal(bad.code, 5);
  assert.match(bad.stderr, /--prom \/nonexistent\/x\.prom: cannot write there/);
});

test('the documented alert rules are valid for promtool', { skip: promtoolSkip }, async () => {
  const r = await promtool(['check', 'rules', 'docs/fleetmasq-alerts.yml']);
  assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: 5 rules found/);
});

test('each documented alert fires, on time: promtool test rules on the shipped test file', { skip: promtoolSkip }, async () => {
  const r = await promtool(['test', 'rules', 'docs/fleetmasq-alerts.test.yml']);
  assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS/);
  // Every rule of the alerts file is exercised by the test file, firing and not yet firing.
  const rules = [...readFileSync('docs/fleetmasq-alerts.yml', 'utf8').matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]!);
  const tests = readFileSync('docs/fleetmasq-alerts.test.yml', 'utf8');
  assert.equal(rules.length, 5);
  for (const a of rules) {
    assert.match(tests, new RegExp(`alertname: ${a}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${a} shown firing`);
    assert.match(tests, new RegExp(`alertname: ${a}\\n\\s+exp_alerts: \\[\\]`), `${a} shown not firing before its time`);
  }
});

const T = (min: number) => new Date(Date.parse('2026-12-04T03:00:00Z') - min * 60_000).toISOString();
const view: FleetStatus = {
  robots: [
    { host: 'cam-01', state: 'compliant', stale: false, lastSeen: T(10), evidence: { state: 'compliant', at: T(10), command: 'apply', runId: 'a', controller: 'fleet@ctl' } },
    { host: 'cam-02', state: 'noncompliant', stale: false, lastSeen: T(10), evidence: { state: 'noncompliant', at: T(10), command: 'check', runId: 'a', controller: 'fleet@ctl' } },
    { host: 'cam-03', state: 'removed', stale: false, lastSeen: T(5), evidence: { state: 'removed', at: T(5), command: 'remove', runId: 'b', controller: 'fleet@ctl' } },
    // Stale: keeps its last known state; seen by a later command that did not judge it.
    { host: 'arm "7"\\x', state: 'compliant', stale: true, lastSeen: T(200), evidence: { state: 'compliant', at: T(300), command: 'check', runId: 'c', controller: 'fleet@ctl' } },
    { host: 'cam-05', state: 'unknown', stale: false, lastSeen: T(10) },
    { host: 'cam-06', state: 'never-seen', stale: true },
  ],
  summary: { total: 6, compliant: 2, noncompliant: 1, removed: 1, unknown: 1, neverSeen: 1, stale: 1 },
  history: [],
};

test('status --prom: one state per robot (one-hot), fleet totals that add up, timestamps, accepted by promtool', async () => {
  const now = new Date('2026-12-04T03:00:00Z');
  const text = await fleetPromText(view, now, (h) => (h === 'cam-01' ? ['mifi', 'cams'] : []));
  const sec = (iso: string) => Date.parse(iso) / 1000;
  // Per robot: every state listed, exactly one is 1, and it is the robot's state.
  const oneHot = new Map<string, Record<string, number>>();
  for (const m of text.matchAll(/^fleetmasq_robot_state\{robot="((?:[^"\\]|\\.)*)",state="([^"]+)"\} (\d+)$/gm)) oneHot.set(m[1]!, { ...oneHot.get(m[1]!), [m[2]!]: Number(m[3]) });
  assert.equal(oneHot.size, 6);
  for (const r of view.robots) {
    const key = r.host.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    const states = oneHot.get(key)!;
    assert.deepEqual(Object.keys(states).sort(), ['compliant', 'never-seen', 'noncompliant', 'removed', 'unknown'], r.host);
    assert.deepEqual(Object.entries(states).filter(([, v]) => v === 1).map(([s]) => s), [r.state], r.host);
  }
  assert.match(text, /^fleetmasq_robot_stale\{robot="arm \\"7\\"\\\\x"\} 1$/m);
  assert.match(text, /^fleetmasq_robot_stale\{robot="cam-01"\} 0$/m);
  assert.match(text, new RegExp(`^fleetmasq_robot_last_seen_timestamp_seconds\\{robot="arm \\\\"7\\\\"\\\\\\\\x"\\} ${sec(T(200))}$`, 'm'));
  assert.match(text, new RegExp(`^fleetmasq_robot_evidence_timestamp_seconds\\{robot="arm \\\\"7\\\\"\\\\\\\\x"\\} ${sec(T(300))}$`, 'm'));
  assert.match(text, new RegExp(`^fleetmasq_robot_evidence_timestamp_seconds\\{robot="cam-03"\\} ${sec(T(5))}$`, 'm'));
  assert.doesNotMatch(text, /_timestamp_seconds\{robot="cam-06"\}/, 'never seen: no timestamps');
  assert.doesNotMatch(text, /^fleetmasq_robot_evidence_timestamp_seconds\{robot="cam-05"\}/m, 'never judged: no evidence time');
  assert.match(text, /^fleetmasq_robot_groups_info\{robot="cam-01",groups="cams,mifi"\} 1$/m);
  // Fleet totals: each robot in exactly one state, no `total` beside them.
  const fleet = Object.fromEntries([...text.matchAll(/^fleetmasq_fleet_robots\{state="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  assert.deepEqual(fleet, { compliant: 2, noncompliant: 1, removed: 1, unknown: 1, 'never-seen': 1 });
  assert.equal(Object.values(fleet).reduce((a, b) => a + b, 0), view.robots.length);
  assert.doesNotMatch(text, /state="total"/);
  assert.match(text, /^fleetmasq_fleet_stale_robots 1$/m);
  assert.match(text, new RegExp(`^fleetmasq_status_timestamp_seconds ${sec(now.toISOString())}$`, 'm'));
  // No name shared with check --prom's file: both can sit in one textfile folder.
  const names = (t: string) => new Set([...t.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
  const check = names(await promText(results, { command: 'check', checkMode: false, inventory: 'h', startedAt: now }, () => [], now));
  assert.deepEqual([...names(text)].filter((n) => check.has(n)), []);
  // Without groups: no info series.
  assert.doesNotMatch(await fleetPromText(view, now), /groups_info/);
  if (hasPromtool || process.env.CI) {
    const r = await promtool(['check', 'metrics'], text);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  }
});
