/**
 * Issue 5 acceptance: rolling reboots with proof, reboot timeouts, max-fail, and readable reports.
 * Issue 17: a failed canary stops the rollout; robots that are not compliant are not rebooted blind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabState } from '../../lab/lab.js';
import { run } from '../../src/util/proc.js';
import { cli } from '../helpers/cli.js';
import { bootId, canRunLab, specFile, sshOut, useLab } from '../helpers/lab.js';

async function prepare(l: LabState): Promise<void> {
  const r = await cli(['apply', '-i', l.paths.inventory, '-l', 'all']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}
const { lab } = canRunLab ? useLab(specFile('test/fixtures/reboot-fleet.yml', 'treb'), prepare) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 300_000 };
const ten = 'r-*';

test('10 robots with --serial 1,50%: canary first, new boot_ids, compliance after the boot, down/up times', opts, async () => {
  const l = lab();
  const before = Object.fromEntries(await Promise.all(l.robots.filter((r) => r.name !== 'dead').map(async (r) => [r.name, await bootId(l, r.name)] as const)));
  const d = mkdtempSync(join(tmpdir(), 'fmr-'));
  const r = await cli(['reboot', '-i', l.paths.inventory, '-l', ten, '--serial', '1,50%', '--json', '--junit', join(d, 'j.xml'), '--html', join(d, 'r.html')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const hosts = r.json.hosts as Record<string, any>;
  assert.equal(Object.keys(hosts).length, 10);
  const canary = hosts['r-01'];
  for (const [name, h] of Object.entries(hosts)) {
    assert.equal(h.compliant, true, `${name}: ${JSON.stringify(h.reasons)}`);
    assert.equal(h.details.firedThisBoot, true, name);
    assert.equal(h.details.previousBootId, before[name]);
    assert.notEqual(h.details.bootId, before[name]);
    assert.equal(h.details.bootId, await bootId(l, name));
    assert.equal(typeof h.details.downMs, 'number');
    assert.equal(typeof h.details.upMs, 'number');
    if (name !== 'r-01') assert.ok(Date.parse(h.startedAt) >= Date.parse(canary.finishedAt), `${name} started before the canary finished`);
  }
  // JUnit: well-formed XML with the right counts.
  const py = await run('python3', ['-c', 'import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); print(r.get("tests"), r.get("failures"), r.get("errors"), len(r.findall(".//testcase")))', join(d, 'j.xml')]);
  assert.equal(py.stdout.trim(), '10 0 0 10');
  assert.match(readFileSync(join(d, 'r.html'), 'utf8'), /<!doctype html>/);
});

test('a robot that powers off fails with reboot-timeout; the rest succeed; max-fail 0 stops the next batch', opts, async () => {
  const l = lab();
  const r = await cli(['reboot', '-i', l.paths.inventory, '-l', 'dead:r-02:r-03', '--reboot-timeout', '12', '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.json.hosts.dead.status, 'failed');
  assert.equal(r.json.hosts.dead.error.kind, 'reboot-timeout');
  assert.equal(r.json.hosts['r-02'].compliant, true);
  assert.equal(r.json.hosts['r-03'].compliant, true);

  // The dead robot as the canary with --max-fail-percent 0: the next batch never starts.
  const stopped = await cli(['reboot', '-i', l.paths.inventory, '-l', 'dead:r-04:r-05', '--serial', '1', '--max-fail-percent', '0', '--reboot-timeout', '5', '--json']);
  assert.equal(stopped.json.hosts.dead.status, 'unreachable', 'it is powered off now');
  assert.equal(stopped.code, 2, 'a stopped rollout is not "unreachable robots and none failed"');
  assert.equal(stopped.json.hosts['r-04'].status, 'skipped');
  assert.equal(stopped.json.hosts['r-05'].status, 'skipped');
  assert.match(stopped.json.stopped, /every robot failed \(1 of 1\)/, 'a batch in which every robot failed stops it first');
  assert.match(stopped.json.hosts['r-04'].reasons[0].text, /^not started: batch 1: every robot failed/);
});

const bootIds = async (l: LabState, names: string[]) => Object.fromEntries(await Promise.all(names.map(async (n) => [n, await bootId(l, n)] as const)));

test('a fleet never applied: reboot --serial 1,50% reboots nobody; with --force it stops after the failed canary', opts, async () => {
  const l = lab();
  const names = ['r-08', 'r-09', 'r-10'];
  const rm = await cli(['remove', '-i', l.paths.inventory, '-l', names.join(':')]);
  assert.equal(rm.code, 0, rm.stdout + rm.stderr);
  const before = await bootIds(l, names);
  const r = await cli(['reboot', '-i', l.paths.inventory, '-l', names.join(':'), '--serial', '1,50%', '--json']);
  assert.equal(r.code, 2, 'not compliant robots: exit 2');
  assert.equal(r.json.hosts['r-08'].status, 'skipped');
  assert.equal(r.json.hosts['r-08'].compliant, false);
  assert.deepEqual(r.json.hosts['r-08'].reasons[0], { code: 'noncompliant-before-reboot', text: 'not compliant before the reboot: run apply first (or --force)' });
  // A canary that was skipped proves nothing: the rest are not started.
  assert.match(r.json.stopped, /the canary batch proved nothing/);
  for (const n of ['r-09', 'r-10']) {
    assert.equal(r.json.hosts[n].status, 'skipped', n);
    assert.match(r.json.hosts[n].reasons[0].text, /^not started: the canary batch proved nothing/, n);
  }
  assert.deepEqual(await bootIds(l, names), before, 'nobody rebooted');

  const forced = await cli(['reboot', '-i', l.paths.inventory, '-l', names.join(':'), '--serial', '1,50%', '--force', '--json']);
  assert.equal(forced.code, 2);
  const canary = forced.json.hosts['r-08'];
  assert.equal(canary.status, 'failed');
  assert.notEqual(canary.details.bootId, before['r-08'], 'the canary did reboot');
  assert.match(canary.reasons[0].text, /^not compliant before the reboot \(forced\) and still not after boot /);
  assert.ok(!canary.reasons.some((x: { text: string }) => /did not survive/.test(x.text)), `the wrong story: ${canary.reasons.map((x: { text: string }) => x.text).join('; ')}`);
  assert.match(forced.json.stopped, /the canary batch failed \(1 of 1 robot\)|every robot failed \(1 of 1\)/);
  for (const n of ['r-09', 'r-10']) assert.equal(forced.json.hosts[n].status, 'skipped', n);
  const after = await bootIds(l, names);
  assert.equal(after['r-09'], before['r-09']);
  assert.equal(after['r-10'], before['r-10']);
});

test('persistence broken behind fleetmasq\'s back on the canary: it did not survive, and the rest keep their boot ids', opts, async () => {
  const l = lab();
  // A drop-in that replaces the unit's commands: the unit file itself is intact and enabled, so the
  // robot reads as compliant before the reboot, but nothing re-applies the rule at boot.
  await sshOut(l, 'r-06', 'mkdir -p /etc/systemd/system/fleetmasq-masquerade.service.d && printf "[Service]\\nExecStart=\\nExecStart=/bin/true\\n" > /etc/systemd/system/fleetmasq-masquerade.service.d/override.conf && systemctl daemon-reload');
  const before = await bootIds(l, ['r-06', 'r-07']);
  const r = await cli(['reboot', '-i', l.paths.inventory, '-l', 'r-06:r-07', '--serial', '1,50%', '--json']);
  assert.equal(r.code, 2);
  const h = r.json.hosts['r-06'];
  assert.equal(h.status, 'failed');
  assert.notEqual(h.details.bootId, before['r-06']);
  assert.ok(h.reasons.some((x: { code: string; text: string }) => x.code === 'rule-lost-at-reboot' && /the rule did not survive the reboot/.test(x.text)), h.reasons.map((x: { text: string }) => x.text).join('; '));
  assert.match(r.json.stopped, /every robot failed \(1 of 1\)/);
  assert.equal(r.json.hosts['r-07'].status, 'skipped');
  assert.equal(await bootId(l, 'r-07'), before['r-07'], 'the rest keep their boot ids');
  // The next run does not reboot r-06 blind: it is not compliant now.
  const again = await cli(['reboot', '-i', l.paths.inventory, '-l', 'r-06', '--json']);
  assert.equal(again.json.hosts['r-06'].status, 'skipped');
});

test('a batch in which every robot failed stops a playbook; robots of later plays are reported, not dropped', opts, async () => {
  const l = lab();
  const d = mkdtempSync(join(tmpdir(), 'fmr-'));
  const pb = join(d, 'pb.yml');
  // r-08 .. r-10 are not compliant (removed above): the verify batch of one fails, so the play stops.
  writeFileSync(pb, ['- name: verify first', "  hosts: 'r-08:r-09:r-10'", '  serial: 1', '  tasks:', '    - verify: {}', '- name: then the rest', "  hosts: 'r-0[1-5]'", '  tasks:', '    - check: {}', ''].join('\n'));
  const r = await cli(['play', pb, '-i', l.paths.inventory, '--json']);
  assert.equal(r.code, 2);
  assert.match(r.json.stopped, /^play 'verify first': batch 1: every robot failed \(1 of 1\)/);
  assert.equal(r.json.playbook, pb);
  assert.equal(r.json.hosts['r-08'].status, 'failed');
  for (const n of ['r-09', 'r-10', 'r-01', 'r-05']) {
    assert.equal(r.json.hosts[n].status, 'skipped', n);
    assert.match(r.json.hosts[n].reasons[0].text, /^not started: /, n);
  }
});
