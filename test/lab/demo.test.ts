/**
 * The README's demo (`npm run demo` runs `fleetmasq demo`), end to end on its own lab: before, rollout,
 * rolling reboot with proof, after; its reports are written where it was started.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, readLab } from '../../lab/lab.js';
import { cli } from '../helpers/cli.js';
import { canRunLab, sshOut } from '../helpers/lab.js';

const opts = { skip: !canRunLab && 'needs root', timeout: 300_000 };
const NAME = 'tdemo';

after(async () => {
  if (canRunLab) await labDown(NAME);
});

test('demo: a non-compliant fleet is rolled out, rebooted with proof and compliant after, with reports', opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-demo-'));
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const r = await cli(['demo', '--robots', '3', '--name', NAME]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /check recap: 3 robots .*compliant=0\/3/);
    assert.match(r.stdout, /reboot recap: 3 robots .*failed=0/);
    assert.match(r.stdout, /check recap: 3 robots {2}ok=3 .*compliant=3\/3/);
    assert.match(r.stdout, new RegExp(`lab down --name ${NAME}`));
    const html = readFileSync(join(dir, 'fleetmasq-demo-report.html'), 'utf8');
    for (const robot of ['robot-01', 'robot-02', 'robot-03']) assert.match(html, new RegExp(robot));
    assert.match(readFileSync(join(dir, 'fleetmasq-demo-junit.xml'), 'utf8'), /<testsuite[^>]*tests="3"[^>]*failures="0"/);
    // Checked over OpenSSH, not fleetmasq: the rule is live once on each robot's own uplink.
    const lab = readLab(NAME)!;
    for (const [robot, iface] of [['robot-01', 'wlan0'], ['robot-02', 'eth0'], ['robot-03', 'wwan0']]) {
      const rules = await sshOut(lab, robot!, 'iptables -w -t nat -S POSTROUTING');
      assert.equal(rules.split('\n').filter((l) => l === `-A POSTROUTING -o ${iface} -j MASQUERADE`).length, 1, robot);
    }
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
});
