/**
 * Issue 12: a link cut at any point of an apply or remove leaves each robot as it was or fully changed
 * (never a unit without its enable, a rule without its persistence), and the next run converges. Also
 * --until-converged on real robots whose link is down when the run starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labLink, type LabState } from '../../src/lab/lab.js';
import { cli } from '../helpers/cli.js';
import { canRunLab, specFile, sshOut, useLab } from '../helpers/lab.js';

const ROBOTS = ['f-01', 'f-02', 'f-03', 'f-04', 'f-05'];

// A slow systemctl (2 s per enable/disable/stop) widens each change script's run on the robot, so that
// cuts land in the middle of it, not only before or after.
const setup = async (l: LabState) => {
  for (const r of ROBOTS)
    await sshOut(l, r, `printf '#!/bin/sh\\ncase "$1" in enable|disable|stop) sleep 2;; esac\\nexec /usr/bin/systemctl "$@"\\n' > /usr/local/sbin/systemctl && chmod 755 /usr/local/sbin/systemctl`);
};
const { lab } = canRunLab ? useLab(specFile('test/fixtures/faults-fleet.yml', 'tfault'), setup) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 300_000 };

/** A robot's fleetmasq state: 'none' (as before), 'full' (rule, unit, enabled), or what is half-done. */
async function state(l: LabState, robot: string): Promise<string> {
  const out = await sshOut(
    l,
    robot,
    'r=$(iptables -w -t nat -S POSTROUTING | grep -c -- "-o wlan0 -j MASQUERADE" || true); u=no; [ -e /etc/systemd/system/fleetmasq-masquerade.service ] && u=yes; e=no; [ -L /etc/systemd/system/multi-user.target.wants/fleetmasq-masquerade.service ] && e=yes; echo "$r $u $e"',
  );
  const [r, u, e] = out.trim().split(' ');
  if (r === '0' && u === 'no' && e === 'no') return 'none';
  if (r === '1' && u === 'yes' && e === 'yes') return 'full';
  return `half (rules=${r} unit=${u} enabled=${e})`;
}

async function cutDuring(l: LabState, args: string[]): Promise<void> {
  // Each robot's link is cut at another moment: before, during and after its change.
  const timers = ROBOTS.map((r, i) => setTimeout(() => void labLink(l, r, { drop: true }).catch(() => {}), 800 + i * 600));
  try {
    await cli([...args, '-i', l.paths.inventory, '--connect-retries', '0', '--json']);
  } finally {
    timers.forEach(clearTimeout);
  }
}

test('links cut at many points during apply and remove: every robot as it was or fully changed; the next run converges', opts, async () => {
  const l = lab();
  for (let round = 0; round < 2; round++) {
    await cutDuring(l, ['apply']);
    for (const r of ROBOTS) assert.match(await state(l, r), /^(none|full)$/, `${r} after a cut apply`);
    const again = await cli(['apply', '-i', l.paths.inventory, '--json']);
    assert.equal(again.code, 0, JSON.stringify(again.json?.hosts));
    for (const r of ROBOTS) assert.equal(await state(l, r), 'full', r);

    await cutDuring(l, ['remove']);
    for (const r of ROBOTS) assert.match(await state(l, r), /^(none|full)$/, `${r} after a cut remove`);
    const rm = await cli(['remove', '-i', l.paths.inventory, '--json']);
    assert.equal(rm.code, 0, JSON.stringify(rm.json?.hosts));
    for (const r of ROBOTS) assert.equal(await state(l, r), 'none', r);
  }
});

test('--until-converged on real robots: a robot whose link is down when the run starts is applied once it is back', opts, async () => {
  const l = lab();
  await labLink(l, 'f-05', { stall: true });
  const resume = setTimeout(() => void labLink(l, 'f-05', { stall: false }), 6000);
  try {
    const r = await cli(['apply', '-i', l.paths.inventory, '--connect-timeout', '2', '--connect-retries', '0', '--until-converged', '--deadline', '90s', '--json']);
    assert.equal(r.code, 0, JSON.stringify(r.json.hosts['f-05']));
    assert.deepEqual(r.json.retry, []);
    for (const x of ROBOTS) assert.equal(await state(l, x), 'full', x);
  } finally {
    clearTimeout(resume);
    await labLink(l, 'f-05', { stall: false });
  }
});
