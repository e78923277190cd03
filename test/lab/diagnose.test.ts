/**
 * Issue 13 on real robots behind the lab's hotspot model: diagnose tells the robots the defect hits from
 * the protected ones and from a healthy uplink; --ab reproduces the field note's experiment and leaves
 * every robot as it found it, also when the controller dies mid-way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cli } from '../helpers/cli.js';
import { canRunLab, observedSource, specFile, sshOut, useLab } from '../helpers/lab.js';
import type { LabState } from '../../lab/lab.js';

const setup = async (l: LabState) => {
  const r = await cli(['apply', '-i', l.paths.inventory, '-l', 'fixed']);
  assert.equal(r.code, 0, r.stdout);
  await sshOut(l, 'nopy', 'chmod a-x /usr/bin/python3*');
};
const { lab } = canRunLab ? useLab(specFile('test/fixtures/diagnose-fleet.yml', 'tdiag'), setup) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 300_000 };
const inv = () => lab().paths.inventory;
const rules = async (robot: string) => (await sshOut(lab(), robot, 'iptables -w -t nat -S POSTROUTING')).split('\n').filter((l) => l.includes('MASQUERADE'));

test('diagnose: affected and unprotected, protected, not affected, and a robot without python3', opts, async () => {
  const r = await cli(['diagnose', '-i', inv(), '--attempts', '8', '--json']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const h = r.json.hosts;
  assert.equal(h.bare.details.diagnosis.verdict, 'affected-unprotected', JSON.stringify(h.bare.details.diagnosis));
  assert.ok(h.bare.details.diagnosis.tally.changes >= 2, JSON.stringify(h.bare.details.diagnosis.tally));
  assert.equal(h.bare.details.diagnosis.leak.result, 'leaks');
  assert.equal(h.bare.details.diagnosis.leak.seen, '172.17.0.1');
  assert.equal(h.fixed.details.diagnosis.verdict, 'protected', JSON.stringify(h.fixed.details.diagnosis));
  assert.equal(h.fixed.details.diagnosis.tally.changes, 0);
  assert.equal(h.fixed.details.diagnosis.leak.result, 'masqueraded');
  assert.equal(h.healthy.details.diagnosis.verdict, 'not-affected', JSON.stringify(h.healthy.details.diagnosis));
  assert.equal(h.healthy.details.diagnosis.leak.result, 'leaks');
  assert.equal(h.nopy.status, 'skipped');
  assert.deepEqual(h.nopy.reasons, [{ code: 'needs-python3', text: 'cannot diagnose: needs python3' }]);
  assert.deepEqual(r.json.diagnose, { robots: 4, affected: 1, protected: 1, notAffected: 1, changesDespite: 0, inconclusive: 0, cannotDiagnose: 1, unreachable: 0, failed: 0 });
  assert.deepEqual(await rules('bare'), [], 'diagnose changed nothing');
});

test("--ab: the field note's experiment on each robot, its original state given back", opts, async () => {
  const before = { bare: await rules('bare'), fixed: await rules('fixed') };
  const r = await cli(['diagnose', '-i', inv(), '-l', 'bare:fixed', '--ab', '--json', '--html', '/tmp/fleetmasq-diagnose-test.html']);
  const h = r.json.hosts;
  for (const robot of ['bare', 'fixed']) {
    const ab = h[robot].details.diagnosis.ab;
    assert.ok(ab.without.changes >= 3, `${robot}: ${JSON.stringify(ab.without)}`);
    assert.equal(ab.with.changes, 0, `${robot}: ${JSON.stringify(ab.with)}`);
    assert.equal(ab.without.answered, 10);
    assert.equal(ab.with.answered, 10);
    assert.equal(ab.restored, true);
  }
  assert.deepEqual({ bare: await rules('bare'), fixed: await rules('fixed') }, before);
  const { readFileSync } = await import('node:fs');
  assert.match(readFileSync('/tmp/fleetmasq-diagnose-test.html', 'utf8'), /changed \d+\/10 without, 0\/10 with/);
});

test('--ab when the controller dies mid-way: the robot finishes, restores its state and disarms its timer', opts, async () => {
  const l = lab();
  const p = spawn(process.execPath, ['bin/fleetmasq.js', 'diagnose', '-i', inv(), '-l', 'bare', '--ab', '--quiet'], { stdio: 'ignore' });
  // Wait until the experiment is under way (its restore timer armed), then kill the controller.
  const until = Date.now() + 30_000;
  while (Date.now() < until && !(await sshOut(l, 'bare', 'systemctl list-units --all --plain --no-legend "fleetmasq-ab-restore-*" | wc -l')).trim().match(/^[1-9]/))
    await new Promise((r) => setTimeout(r, 300));
  await new Promise((r) => setTimeout(r, 6000)); // into the second group: masquerading on
  p.kill('SIGKILL');
  const end = Date.now() + 90_000;
  let left = '';
  while (Date.now() < end) {
    left = await sshOut(l, 'bare', 'pgrep -f "[p]ython3 -I - " >/dev/null && echo running || echo done');
    if (left.trim() === 'done') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.equal(left.trim(), 'done');
  assert.deepEqual(await rules('bare'), [], 'masquerading off again, as it was');
  assert.equal((await sshOut(l, 'bare', 'systemctl list-units --all --plain --no-legend "fleetmasq-ab-restore-*" | wc -l')).trim(), '0', 'the restore timer is disarmed');
  assert.equal((await sshOut(l, 'bare', 'ls /run/fleetmasq-ab-restore-*.sh 2>/dev/null | wc -l')).trim(), '0');
});

test('--ab whose restore timer fires early, with a run queued behind it: toggling stops, the fix stays in effect, the queued run changes nothing in the window, audit lines tell it', opts, async () => {
  const l = lab();
  const uplink = l.robots.find((r) => r.name === 'fixed')!.address;
  assert.equal(await observedSource(l, 'fixed'), uplink, 'masquerading in effect before');
  // The experiment (3 groups of 5 attempts, ~15 s) with its restore timer at 2 s, in a process of its own.
  const p = spawn(process.execPath, ['bin/fleetmasq.js', 'diagnose', '-i', inv(), '-l', 'fixed', '--ab', '--ab-groups', '3', '--ab-per', '5', '--json'], {
    env: { ...process.env, FLEETMASQ_AB_RESTORE_AFTER: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  p.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise<void>((r) => p.on('close', () => r()));
  // Queued behind it once it holds the robot's lock: an apply that waits for the lock.
  const until = Date.now() + 30_000;
  while (Date.now() < until && (await sshOut(l, 'fixed', 'test -e /run/fleetmasq.lock && echo held; true')).trim() !== 'held') await new Promise((r) => setTimeout(r, 200));
  const queued = await cli(['apply', '-i', inv(), '-l', 'fixed', '--wait-lock', '5m', '--json']);
  await exited;
  const h = JSON.parse(stdout).hosts.fixed;
  assert.equal(h.details.diagnosis.ab.restored, true, JSON.stringify(h));
  assert.equal(h.details.diagnosis.ab.cutShort, true, 'the timer fired mid-experiment: it stopped there');
  assert.ok(h.details.diagnosis.ab.groups.length < 3);
  assert.match(h.reasons.map((x: { text: string }) => x.text).join('\n'), /restore timer fired before it ended: it stopped after \d group\(s\) and put the live rule back as it found it/);
  assert.equal(queued.json.hosts.fixed.status, 'ok', `the queued run found the robot as it was: ${JSON.stringify(queued.json.hosts.fixed)}`);
  assert.deepEqual(queued.json.hosts.fixed.changes, []);
  assert.equal(await observedSource(l, 'fixed'), uplink, 'masquerading in effect after');
  assert.equal((await rules('fixed')).length, 1);
  const journal = await sshOut(l, 'fixed', 'journalctl -t fleetmasq --no-pager -o cat');
  assert.match(journal, /diagnose --ab by \S+: A\/B experiment: masquerading switched off \(/);
  assert.match(journal, /diagnose --ab by \S+: A\/B experiment: the live rule on \S+ restored as it was found/);
  assert.equal((await sshOut(l, 'fixed', 'ls /run/fleetmasq-ab-restore-* 2>/dev/null | wc -l')).trim(), '0');
  assert.equal((await sshOut(l, 'fixed', 'systemctl list-units --all --plain --no-legend "fleetmasq-ab-restore-*" | wc -l')).trim(), '0', 'the timer is disarmed');
});
