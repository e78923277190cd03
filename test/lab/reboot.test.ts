/** Issue 5 acceptance: rolling reboots with proof, reboot timeouts, max-fail, and readable reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabState } from '../../src/lab/lab.js';
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
    assert.equal(h.compliant, true, `${name}: ${h.reasons}`);
    assert.equal(h.firedThisBoot, true, name);
    assert.equal(h.previousBootId, before[name]);
    assert.notEqual(h.bootId, before[name]);
    assert.equal(h.bootId, await bootId(l, name));
    assert.equal(typeof h.downMs, 'number');
    assert.equal(typeof h.upMs, 'number');
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
  assert.equal(stopped.code, 4, 'unreachable robots and none failed');
  assert.equal(stopped.json.hosts['r-04'].status, 'skipped');
  assert.equal(stopped.json.hosts['r-05'].status, 'skipped');
  assert.match(stopped.json.aborted, /more than max fail 0%/);
});

test('persistence removed behind fleetmasq\'s back: the robot comes back non-compliant, the rule did not survive', opts, async () => {
  const l = lab();
  await sshOut(l, 'r-06', 'systemctl disable --quiet fleetmasq-masquerade.service && rm /etc/systemd/system/fleetmasq-masquerade.service && systemctl daemon-reload');
  const r = await cli(['reboot', '-i', l.paths.inventory, '-l', 'r-06:r-07', '--json']);
  assert.equal(r.code, 2);
  const h = r.json.hosts['r-06'];
  assert.equal(h.status, 'failed');
  assert.equal(h.compliant, false);
  assert.ok(h.reasons.some((x: string) => /the rule did not survive the reboot/.test(x)), h.reasons.join('; '));
  assert.equal(r.json.hosts['r-07'].compliant, true);
});
