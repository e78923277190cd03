import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { labDown, labStatus, labUp, type LabState } from '../../lab/lab.js';
import { labPaths, CGROUP_PARENT } from '../../lab/paths.js';
import { uniformSpec } from '../../lab/spec.js';
import { run } from '../../src/util/proc.js';
import { bootId, canRunLab, sshOut, waitNewBoot } from '../helpers/lab.js';

const NAME = 'tbasic';

function leftovers(name: string): string[] {
  const p = labPaths(name);
  const found: string[] = [];
  if (existsSync(p.dir)) found.push(`dir ${p.dir}`);
  if (existsSync(`/run/netns/${p.netns}`)) found.push(`netns ${p.netns}`);
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) if (line.includes(p.dir)) found.push(`mount ${line}`);
  for (const h of ['systemd', 'unified']) {
    if (existsSync(`/sys/fs/cgroup/${h}/${CGROUP_PARENT}/${name}`)) found.push(`cgroup ${h}/${name}`);
  }
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue; // zombies hold nothing; PID 1 here reaps them lazily
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(`${p.dir}/`) || cmd.includes(`fmlab-${name}`)) found.push(`process ${e} ${cmd.replace(/\0/g, ' ')}`);
    } catch {}
  }
  return found;
}

test('lab: 5 robots come up, reboot for real, and go down without a trace', { skip: !canRunLab && 'needs root', timeout: 300_000 }, async (t) => {
  let lab: LabState | undefined;
  try {
    lab = await labUp(uniformSpec(NAME, 5));

    await t.test('status shows 5 robots reachable with their boot ids', async () => {
      const st = await labStatus(lab!);
      assert.equal(st.length, 5);
      for (const s of st) {
        assert.equal(s.reachable, true, `${s.name}: ${s.error}`);
        assert.equal(s.power, 'running');
        assert.match(s.bootId!, /^[0-9a-f-]{36}$/);
      }
      assert.equal(new Set(st.map((s) => s.bootId)).size, 5, 'every robot has its own boot');
    });

    await t.test('every robot has its own host key and address', async () => {
      const keys = new Set(lab!.robots.map((r) => r.hostKey.split(' ')[1]));
      assert.equal(keys.size, 5);
      const hostKeyOnRobot = (await sshOut(lab!, 'robot-02', 'cat /etc/ssh/ssh_host_ed25519_key.pub')).split(' ')[1];
      assert.equal(hostKeyOnRobot, lab!.robots[1]!.hostKey.split(' ')[1]);
      assert.equal((await sshOut(lab!, 'robot-02', 'hostname')).trim(), 'robot-02');
    });

    await t.test('a reboot is real: new boot_id, live iptables rule gone, systemd up again', async () => {
      await sshOut(lab!, 'robot-03', 'iptables -w -t nat -A POSTROUTING -o wlan0 -j MASQUERADE');
      assert.match(await sshOut(lab!, 'robot-03', 'iptables -w -t nat -S POSTROUTING'), /-A POSTROUTING -o wlan0 -j MASQUERADE/);
      const before = await bootId(lab!, 'robot-03');
      await sshOut(lab!, 'robot-03', 'systemd-run --on-active=1 --timer-property=AccuracySec=100ms systemctl reboot >/dev/null');
      const after = await waitNewBoot(lab!, 'robot-03', before);
      assert.notEqual(after, before);
      assert.doesNotMatch(await sshOut(lab!, 'robot-03', 'iptables -w -t nat -S POSTROUTING'), /MASQUERADE/);
      const state = (await sshOut(lab!, 'robot-03', 'systemctl is-system-running --wait || true')).trim();
      assert.equal(state, 'running');
      // The others did not reboot.
      const st = await labStatus(lab!);
      assert.equal(st.find((s) => s.name === 'robot-03')!.boots, 2);
      assert.equal(st.find((s) => s.name === 'robot-01')!.boots, 1);
    });

    await t.test('the generated inventory drives OpenSSH and Ansible-style clients', async () => {
      const inv = readFileSync(lab!.paths.inventory, 'utf8');
      assert.match(inv, /ansible_host: 10\.77\.0\.10/);
      assert.match(inv, /ProxyCommand/);
      const kh = readFileSync(lab!.paths.knownHosts, 'utf8').trim().split('\n');
      assert.equal(kh.length, 5);
    });
  } finally {
    await labDown(NAME);
  }
  assert.deepEqual(leftovers(NAME), [], 'lab down leaves nothing behind');
  const links = await run('ip', ['-o', 'link'], { nothrow: true });
  assert.doesNotMatch(links.stdout, new RegExp(`vb-${NAME}-`), 'no veth of the lab in the main namespace');
});
