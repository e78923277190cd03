/**
 * Issue 12: a link cut at any point of an apply or remove leaves each robot as it was or fully changed
 * (never a unit without its enable, a rule without its persistence), and the next run converges. Also
 * --until-converged on real robots whose link is down when the run starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { labLink, type LabState } from '../../lab/lab.js';
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

/** The real CLI in a process of its own (two runs at once are two controllers' runs, not one process's). */
function fleetmasq(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['bin/fleetmasq.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('two real runs at once on one robot: the second meets the first\'s lock (holder named), or waits for it with --wait-lock and plans again from fresh facts', opts, async () => {
  const l = lab();
  const inv = l.paths.inventory;
  // Wider windows: f-01's systemctl takes 10 s per enable/disable/stop, so each change holds the lock for seconds.
  await sshOut(l, 'f-01', `printf '#!/bin/sh\\ncase "$1" in enable|disable|stop) sleep 10;; esac\\nexec /usr/bin/systemctl "$@"\\n' > /usr/local/sbin/systemctl`);
  // The second run starts once the first is mid-change (it holds the lock and has written the unit),
  // however long the first took to get there on a loaded machine.
  const midChange = async () => {
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const st = await sshOut(l, 'f-01', 'test -e /run/fleetmasq.lock && test -e /etc/systemd/system/fleetmasq-masquerade.service && echo mid || echo not');
      if (st.trim() === 'mid') return;
      await sleep(200);
    }
    throw new Error('the first run never got mid-change');
  };
  assert.equal((await cli(['remove', '-i', inv, '-l', 'f-01'])).code, 0);
  assert.equal(await state(l, 'f-01'), 'none');

  // The second run reads the robot while the first is changing it (its unit written, the enable under
  // way): it has something to remove, and meets the first's lock.
  const first = fleetmasq(['apply', '-i', inv, '-l', 'f-01', '--json']);
  await midChange();
  const second = await fleetmasq(['remove', '-i', inv, '-l', 'f-01', '--json']);
  const a = await first;
  assert.equal(a.code, 0, a.stdout + a.stderr);
  assert.equal(second.code, 2, second.stdout + second.stderr);
  const err = JSON.parse(second.stdout).hosts['f-01'].error;
  assert.equal(err.kind, 'locked');
  assert.match(err.message, /^locked by \S+@\S+ \(apply, since \S+\): another run is changing this robot/);
  assert.equal(await state(l, 'f-01'), 'full', 'the first run made its whole change; the second changed nothing');
  assert.equal((await cli(['remove', '-i', inv, '-l', 'f-01'])).code, 0);

  // With --wait-lock, the second waits and then plans from what the first left: its remove is complete.
  const first2 = fleetmasq(['apply', '-i', inv, '-l', 'f-01', '--json']);
  await midChange();
  const second2 = await fleetmasq(['remove', '-i', inv, '-l', 'f-01', '--json', '--wait-lock', '90s']);
  assert.equal((await first2).code, 0);
  const b = JSON.parse(second2.stdout).hosts['f-01'];
  assert.equal(second2.code, 0, JSON.stringify(b));
  assert.ok(b.changes.some((c: string) => c.includes('live rule')), `the rule the first run added is removed too: ${b.changes}`);
  assert.equal(await state(l, 'f-01'), 'none');
  await sshOut(l, 'f-01', `printf '#!/bin/sh\\ncase "$1" in enable|disable|stop) sleep 2;; esac\\nexec /usr/bin/systemctl "$@"\\n' > /usr/local/sbin/systemctl`);
});

test('issue 24: a change that fails mid-way (its last step, the live rule, fails) lets go of its lock; once fixed the next run is not refused', opts, async () => {
  const l = lab();
  const inv = l.paths.inventory;
  assert.equal((await cli(['remove', '-i', inv, '-l', 'f-03'])).code, 0);
  assert.equal(await state(l, 'f-03'), 'none');
  // Adding a rule fails (as iptables does when the kernel refuses it), after the lock was taken and the
  // unit written: reading rules still works, so the facts and the plan see nothing wrong. (A read-only
  // /etc is no longer a mid-way failure: the facts see it and apply refuses before changing anything.)
  const FAIL = '/usr/local/sbin/iptables';
  await sshOut(l, 'f-03', `printf '#!/bin/sh\\ncase " $* " in *" -A "*) echo "iptables: fault injected" >&2; exit 4;; esac\\nexec /usr/sbin/iptables "$@"\\n' > ${FAIL} && chmod 755 ${FAIL}`);
  try {
    const failed = await cli(['apply', '-i', inv, '-l', 'f-03', '--json']);
    assert.notEqual(failed.code, 0, failed.stdout);
    assert.equal(failed.json.hosts['f-03'].error.kind, 'command', JSON.stringify(failed.json.hosts['f-03'].error));
    assert.match(failed.json.hosts['f-03'].error.message, /fault injected/);
    assert.equal((await sshOut(l, 'f-03', 'ls -a /run | grep -c "^fleetmasq.lock" || true')).trim(), '0', 'no lock, temp lock or claim left behind');
    assert.equal((await sshOut(l, 'f-03', 'find /etc/systemd/system -name "*fleetmasq-tmp*" | wc -l')).trim(), '0', 'no temp file left');
  } finally {
    await sshOut(l, 'f-03', `rm -f ${FAIL}`);
  }
  // /etc read-only (a root gone read-only after a file-system error): refused before any change, no lock.
  assert.equal((await sshOut(l, 'f-03', 'mount --bind /etc /etc && mount -o remount,bind,ro /etc && ! touch /etc/fm-rw-probe 2>/dev/null && echo ro')).trim(), 'ro');
  try {
    const ro = await cli(['apply', '-i', inv, '-l', 'f-03', '--json']);
    assert.notEqual(ro.code, 0, ro.stdout);
    assert.equal(ro.json.hosts['f-03'].error?.kind, 'config', JSON.stringify(ro.json.hosts['f-03']));
    assert.match(ro.json.hosts['f-03'].error.message, /read-only/);
    assert.equal((await sshOut(l, 'f-03', 'ls -a /run | grep -c "^fleetmasq.lock" || true')).trim(), '0', 'no lock taken');
  } finally {
    await sshOut(l, 'f-03', 'umount /etc');
  }
  const next = await cli(['apply', '-i', inv, '-l', 'f-03', '--json']);
  assert.equal(next.code, 0, JSON.stringify(next.json.hosts['f-03'].error));
  assert.equal(await state(l, 'f-03'), 'full');
});
