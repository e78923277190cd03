/** Prometheus metrics (issue 14): the textfile format promtool accepts, bounded labels, written atomically. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promText } from '../../src/report/prom.js';
import type { HostResult } from '../../src/runner/types.js';
import { run } from '../../src/util/proc.js';
import { cli } from '../helpers/cli.js';

const hasPromtool = (await run('promtool', ['--version'], { nothrow: true }).catch(() => undefined))?.ok ?? false;

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
  assert.match(text, /^fleetmasq_fleet_robots\{state="compliant"\} 1$/m);
  assert.match(text, /^fleetmasq_fleet_robots\{state="unknown"\} 1$/m);
  assert.match(text, /^fleetmasq_check_duration_seconds\{command="check"\} 4$/m);
  if (hasPromtool) {
    const r = await run('promtool', ['check', 'metrics'], { input: text, nothrow: true });
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

test('the documented alert rules are valid for promtool', async (t) => {
  if (!hasPromtool) return t.skip('promtool not installed (.ci/run installs Debian\'s prometheus)');
  const r = await run('promtool', ['check', 'rules', 'docs/fleetmasq-alerts.yml'], { nothrow: true });
  assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: 3 rules found/);
});
