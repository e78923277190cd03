import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labLink, labSsh, labStatus, STOCK_RC_LOCAL } from '../../lab/lab.js';
import { run } from '../../src/util/proc.js';
import { bootId, canRunLab, specFile, sshOut, useLab } from '../helpers/lab.js';

const { lab } = canRunLab ? useLab(specFile('test/fixtures/mixed-fleet.yml', 'tvar')) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 180_000 };

test('uplink interface names are real, with the default route on them', opts, async () => {
  for (const [robot, iface] of [['wifi', 'wlan0'], ['wired', 'eth0'], ['cell', 'wwan0']] as const) {
    const route = await sshOut(lab(), robot, 'ip route show default');
    assert.match(route, new RegExp(`default via 10\\.77\\.0\\.1 dev ${iface} metric 100`), robot);
    assert.doesNotMatch(await sshOut(lab(), robot, 'ip -o link'), /host0/);
  }
  // cell also has a second default route, with a higher metric, on eth1.
  assert.match(await sshOut(lab(), 'cell', 'ip route show default'), /dev eth1 metric 600/);
});

test('iptables backends: nft by default, legacy where the spec says', opts, async () => {
  assert.match(await sshOut(lab(), 'wifi', 'iptables -V'), /nf_tables/);
  assert.match(await sshOut(lab(), 'legacy', 'iptables -V'), /legacy/);
});

test('sudo robots: root login refused; passwordless sudo works; the password robot asks for it', opts, async () => {
  const l = lab();
  const direct = await run('ssh', ['-F', l.paths.sshConfig, `root@${l.robots.find((r) => r.name === 'sudoer')!.address}`, 'true'], { nothrow: true });
  assert.notEqual(direct.exitCode, 0, 'root login must be refused on a sudo robot');
  assert.equal((await labSsh(l, 'sudoer', 'sudo -n id -u', { asRoot: false })).stdout.trim(), '0');
  const noPw = await labSsh(l, 'sudopw', 'sudo -n id -u', { asRoot: false, nothrow: true });
  assert.notEqual(noPw.exitCode, 0);
  assert.match(noPw.stderr, /password is required/);
  const wrong = await labSsh(l, 'sudopw', "sudo -S -p '' id -u", { asRoot: false, input: 'wrong\n', nothrow: true });
  assert.notEqual(wrong.exitCode, 0);
  const pw = l.robots.find((r) => r.name === 'sudopw')!.becomePassword!;
  const ok = await labSsh(l, 'sudopw', "sudo -S -p '' id -u", { asRoot: false, input: `${pw}\n` });
  assert.equal(ok.stdout.trim(), '0');
});

test('the rc.local robot has the stock file ending in exit 0, and runs it at boot', opts, async () => {
  assert.equal(await sshOut(lab(), 'rclocal', 'cat /etc/rc.local'), STOCK_RC_LOCAL);
  assert.equal((await sshOut(lab(), 'rclocal', 'stat -c %a /etc/rc.local')).trim(), '755');
  assert.equal((await sshOut(lab(), 'rclocal', 'cat /run/vendor-startup.ran')).trim(), await bootId(lab(), 'rclocal'));
  assert.equal(await sshOut(lab(), 'wifi', 'test -e /etc/rc.local && echo yes || echo no'), 'no\n');
});

test('latency is on the slow robot\'s link only; a stalled link passes nothing until resumed', opts, async () => {
  const l = lab();
  // A login needs several round trips: on a 160 ms link it cannot take less than 3 of them.
  const t0 = Date.now();
  await sshOut(l, 'slow', 'true');
  assert.ok(Date.now() - t0 >= 480, `login on a 160 ms RTT link took only ${Date.now() - t0} ms`);

  await labLink(l, 'wifi', { stall: true });
  const stalled = await labSsh(l, 'wifi', 'true', { nothrow: true, timeoutMs: 8_000 });
  assert.notEqual(stalled.exitCode, 0, 'no login through a stalled link');
  await labLink(l, 'wifi', { stall: false });
  assert.equal(await sshOut(l, 'wifi', 'echo back'), 'back\n');
});

test('the bastion-only robot refuses direct logins and accepts them through the bastion', opts, async () => {
  const l = lab();
  const hidden = l.robots.find((r) => r.name === 'hidden')!;
  const direct = await run('ssh', ['-F', l.paths.sshConfig, `root@${hidden.address}`, 'true'], { nothrow: true });
  assert.notEqual(direct.exitCode, 0);
  assert.equal(await sshOut(l, 'hidden', 'hostname'), 'hidden\n');
});

test('the dead robot powers off instead of rebooting', opts, async () => {
  const l = lab();
  await sshOut(l, 'dead', 'systemd-run --on-active=1 --timer-property=AccuracySec=100ms systemctl reboot >/dev/null');
  const until = Date.now() + 60_000;
  let st;
  do {
    await new Promise((r) => setTimeout(r, 1000));
    st = (await labStatus(l)).find((s) => s.name === 'dead')!;
  } while (st.power !== 'off' && Date.now() < until);
  assert.equal(st.power, 'off');
  assert.equal(st.reachable, false);
});
