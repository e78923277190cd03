/** Issue 16 on lab robots: robots that fight back (endless output, escape sequences, odd rc.local files). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cli } from '../helpers/cli.js';
import { canRunLab, specFile, sshOut, useLab } from '../helpers/lab.js';
import { labSsh, type LabState } from '../../lab/lab.js';
import { shQuote } from '../../src/util/quote.js';

const setup = async (l: LabState) => {
  // An iptables earlier on the PATH than the real one (fleetmasq's scripts set PATH=/usr/local/sbin:...).
  // Its version answer is right; listing rules streams without end.
  await sshOut(l, 'noisy', 'printf "#!/bin/sh\\ncase \\"\\$*\\" in *-V*) exec /usr/sbin/iptables \\"\\$@\\";; esac\\nexec yes MASQUERADE-MASQUERADE-MASQUERADE\\n" > /usr/local/sbin/iptables && chmod 755 /usr/local/sbin/iptables');
  await sshOut(l, 'escapes', "printf '#!/bin/sh\\nprintf \"\\\\033]0;owned\\\\007\\\\033[31mRED\\\\033[2J\" >&2\\nexit 1\\n' > /usr/local/sbin/iptables && chmod 755 /usr/local/sbin/iptables");
  await sshOut(l, 'linked', 'mkdir -p /etc/rc.d && printf "#!/bin/sh\\necho vendor\\nexit 0\\n" > /etc/rc.d/rc.local && chmod 700 /etc/rc.d/rc.local && ln -s rc.d/rc.local /etc/rc.local');
  await sshOut(l, 'oddmode', 'printf "#!/bin/sh\\necho mine\\nexit 0\\n" > /etc/rc.local && chmod 700 /etc/rc.local');  // Planted by the login user (or anything running as them) in their home, where sudo leaves the working
  // directory: Python modules fleetmasq's robot program imports, and commands root might find there.
  // Each leaves a marker with the uid it ran as.
  const mod = 'import os\nopen("/tmp/fm-planted-%d" % os.geteuid(), "a").write(__name__ + "\\n")\n';
  const cmd = '#!/bin/sh\necho "$0 $(id -u)" >> /tmp/fm-planted-cmd\nexit 1\n';
  await labSsh(l, 'planted', `cd && for m in json random socket struct subprocess shlex; do printf '%s' ${shQuote(mod)} > $m.py; done
mkdir -p bin .local/bin && for d in . bin .local/bin; do for c in iptables ip systemctl logger base64 stat python3 date; do printf '%s' ${shQuote(cmd)} > $d/$c && chmod 755 $d/$c; done; done`, { asRoot: false });
  // A default route on a device whose name carries shell (Linux takes it; such a device can carry the route).
  await sshOut(l, 'evilroute', `ip link add name ${shQuote(EVIL)} type bridge && ip addr add 10.99.0.1/24 dev ${shQuote(EVIL)} && ip link set ${shQuote(EVIL)} up && ip route add default dev ${shQuote(EVIL)} metric 1`);
};
const EVIL = 'a;touch${IFS}pw';
const { lab } = canRunLab ? useLab(specFile('test/fixtures/hostile-fleet.yml', 'thost'), setup) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 180_000 };
const state = (l: LabState, robot: string, path: string) => sshOut(l, robot, `stat -c '%F %a' ${path}; sha256sum < ${path} | cut -d' ' -f1`);

test('a robot that streams output without end fails that robot; the controller stays bounded', opts, async () => {
  const l = lab();
  const rss0 = process.memoryUsage().rss;
  const r = await cli(['check', '-i', l.paths.inventory, '-l', 'noisy:oddmode', '--json']);
  assert.equal(r.json.hosts.noisy.error.kind, 'command');
  assert.match(r.json.hosts.noisy.error.message, /sent more than 8 MiB of output for one command/);
  assert.equal(r.json.hosts.oddmode.error, null, 'the others are unaffected');
  assert.ok(process.memoryUsage().rss - rss0 < 300 << 20, 'no unbounded buffering (it was ~600 MB per robot)');
});

test('escape sequences from a robot reach the terminal as text, not as commands', opts, async () => {
  const l = lab();
  const r = spawnSync(process.execPath, ['bin/fleetmasq.js', 'apply', '-i', l.paths.inventory, '-l', 'escapes'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  const all = r.stdout + r.stderr;
  assert.match(all, /iptables does not work on this robot/);
  assert.ok(!all.includes('\x1b'), 'no raw ESC byte reached the output');
  assert.ok(!all.includes('\x07'), 'no raw BEL byte reached the output');
  assert.match(all, /\\u001b\]0;owned\\u0007\\u001b\[31mRED/);
});

test('a symlinked rc.local: the target gets the block, the link stays a link, its mode is kept; remove restores it', opts, async () => {
  const l = lab();
  const before = await state(l, 'linked', '/etc/rc.d/rc.local');
  const r = await cli(['apply', '-i', l.paths.inventory, '-l', 'linked', '--persistence', 'rc.local', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal((await sshOut(l, 'linked', 'readlink /etc/rc.local')).trim(), 'rc.d/rc.local', 'still a link');
  assert.match(await sshOut(l, 'linked', 'cat /etc/rc.d/rc.local'), /# BEGIN fleetmasq managed block/);
  assert.match(await state(l, 'linked', '/etc/rc.d/rc.local'), /^regular file 700\n/);
  const c = await cli(['check', '-i', l.paths.inventory, '-l', 'linked', '--persistence', 'rc.local', '--json']);
  assert.equal(c.json.hosts.linked.compliant, true, c.json.hosts.linked.reasons.map((x: { text: string }) => x.text).join('; '));
  const rm = await cli(['remove', '-i', l.paths.inventory, '-l', 'linked']);
  assert.equal(rm.code, 0, rm.stdout + rm.stderr);
  assert.equal(await state(l, 'linked', '/etc/rc.d/rc.local'), before, 'bytes and mode as before');
  assert.equal((await sshOut(l, 'linked', 'readlink /etc/rc.local')).trim(), 'rc.d/rc.local');
});

test('a 0700 rc.local stays 0700, runs at boot, and comes back byte-identical', opts, async () => {
  const l = lab();
  const before = await state(l, 'oddmode', '/etc/rc.local');
  assert.equal((await cli(['apply', '-i', l.paths.inventory, '-l', 'oddmode', '--persistence', 'rc.local'])).code, 0);
  assert.match(await state(l, 'oddmode', '/etc/rc.local'), /^regular file 700\n/);
  const rb = await cli(['reboot', '-i', l.paths.inventory, '-l', 'oddmode', '--persistence', 'rc.local', '--json']);
  assert.equal(rb.json.hosts.oddmode.compliant, true, JSON.stringify(rb.json.hosts.oddmode.reasons));
  assert.equal(rb.json.hosts.oddmode.details.firedThisBoot, true);
  assert.equal((await cli(['remove', '-i', l.paths.inventory, '-l', 'oddmode'])).code, 0);
  assert.equal(await state(l, 'oddmode', '/etc/rc.local'), before);
});

test('an rc.local fleetmasq created keeps the admin\'s added lines on remove; damaged markers are never edited', opts, async () => {
  const l = lab();
  assert.equal((await cli(['apply', '-i', l.paths.inventory, '-l', 'edited', '--persistence', 'rc.local'])).code, 0);
  await sshOut(l, 'edited', "sed -i 's|^exit 0$|echo admin-line\\nexit 0|' /etc/rc.local");
  assert.equal((await cli(['remove', '-i', l.paths.inventory, '-l', 'edited'])).code, 0);
  assert.equal(await sshOut(l, 'edited', 'cat /etc/rc.local'), '#!/bin/sh\necho admin-line\nexit 0\n', 'kept, less the block');

  // Damaged markers: an END taken out by hand. apply and remove refuse, and touch nothing.
  assert.equal((await cli(['apply', '-i', l.paths.inventory, '-l', 'edited', '--persistence', 'rc.local'])).code, 0);
  await sshOut(l, 'edited', "sed -i '/^# END fleetmasq managed block$/d' /etc/rc.local");
  const damaged = await state(l, 'edited', '/etc/rc.local');
  const rules = await sshOut(l, 'edited', 'iptables -w -t nat -S POSTROUTING');
  for (const cmd of ['apply', 'remove']) {
    const r = await cli([cmd, '-i', l.paths.inventory, '-l', 'edited', '--persistence', 'rc.local', '--json'].filter((a) => cmd === 'apply' || a !== '--persistence' && a !== 'rc.local'));
    assert.equal(r.code, 2, `${cmd}: ${r.stdout}`);
    assert.equal(r.json.hosts.edited.error.kind, 'config');
    assert.match(r.json.hosts.edited.error.message, /fleetmasq markers are damaged \(1 BEGIN, 0 END\)/);
    assert.equal(await state(l, 'edited', '/etc/rc.local'), damaged, `${cmd} touched nothing`);
    assert.equal(await sshOut(l, 'edited', 'iptables -w -t nat -S POSTROUTING'), rules, `${cmd} touched nothing`);
  }
});

test('root never runs what the login user planted in their home: diagnose imports no planted module, no planted command runs (sudo with a password)', opts, async () => {
  const l = lab();
  const env = { FLEETMASQ_BECOME_PASSWORD: l.robots.find((r) => r.name === 'planted')!.becomePassword! };
  assert.match(await sshOut(l, 'planted', 'ls /home/robot'), /json\.py/, 'planted');
  const d = await cli(['diagnose', '-i', l.paths.inventory, '-l', 'planted', '--attempts', '2', '--json'], env);
  assert.equal(d.json.hosts.planted.error, null, JSON.stringify(d.json.hosts.planted));
  assert.equal(d.json.hosts.planted.details.diagnosis.verdict, 'not-affected', JSON.stringify(d.json.hosts.planted.details.diagnosis));
  for (const c of ['apply', 'check', 'remove']) {
    const r = await cli([c, '-i', l.paths.inventory, '-l', 'planted', '--json'], env);
    assert.equal(r.json.hosts.planted.error, null, `${c}: ${JSON.stringify(r.json.hosts.planted)}`);
  }
  assert.equal(await sshOut(l, 'planted', 'cat /tmp/fm-planted-* 2>/dev/null; true'), '', 'no planted module or command ran');
});

test("a robot whose default route's interface name carries shell: apply, check and diagnose refuse it clearly, and nothing runs with it", opts, async () => {
  const l = lab();
  assert.match(await sshOut(l, 'evilroute', 'ip -o -4 route show default'), /dev a;touch\$\{IFS\}pw/, 'the route is there');
  const said = /the robot's default route uses interface "a;touch\$\{IFS\}pw", a name fleetmasq refuses .*nothing was run; set masquerade_interface/;
  for (const args of [['apply'], ['diagnose', '--ab', '--ab-groups', '2', '--ab-per', '1', '--stun', '10.77.0.1:3478'], ['diagnose', '--attempts', '1', '--stun', '10.77.0.1:3478']]) {
    const r = await cli([...args, '-i', l.paths.inventory, '-l', 'evilroute', '--json']);
    assert.equal(r.json.hosts.evilroute.error?.kind, 'config', `${args[0]}: ${JSON.stringify(r.json.hosts.evilroute)}`);
    assert.match(r.json.hosts.evilroute.error.message, said);
  }
  const c = await cli(['check', '-i', l.paths.inventory, '-l', 'evilroute', '--json']);
  assert.equal(c.json.hosts.evilroute.compliant, false);
  assert.match(c.json.hosts.evilroute.reasons.map((x: { text: string }) => x.text).join('\n'), said);
  assert.equal(await sshOut(l, 'evilroute', 'ls -d /pw /root/pw /tmp/pw /run/pw 2>/dev/null; iptables -w -t nat -S POSTROUTING | grep -c MASQUERADE; ls /etc/systemd/system/fleetmasq-masquerade* /run/fleetmasq-ab* 2>/dev/null; true'), '0\n', 'nothing ran with the name, nothing changed');
});

test("an /etc/rc.local that links into the login user's home is never edited as root", opts, async () => {
  const l = lab();
  const env = { FLEETMASQ_BECOME_PASSWORD: l.robots.find((r) => r.name === 'planted')!.becomePassword! };
  await labSsh(l, 'planted', 'printf "#!/bin/sh\\necho mine\\nexit 0\\n" > ~/rc.local && chmod 755 ~/rc.local', { asRoot: false });
  await sshOut(l, 'planted', 'ln -sf /home/robot/rc.local /etc/rc.local');
  const before = await state(l, 'planted', '/home/robot/rc.local');
  const r = await cli(['apply', '-i', l.paths.inventory, '-l', 'planted', '--persistence', 'rc.local', '--json'], env);
  assert.equal(r.json.hosts.planted.error?.kind, 'config', JSON.stringify(r.json.hosts.planted));
  assert.match(r.json.hosts.planted.error.message, /\/etc\/rc\.local: \/home\/robot\/rc\.local is owned by uid \d+, so another user could change what root runs at boot: fleetmasq will not edit it/);
  assert.equal(await state(l, 'planted', '/home/robot/rc.local'), before, 'untouched');
  assert.doesNotMatch(await sshOut(l, 'planted', 'iptables -w -t nat -S POSTROUTING'), /MASQUERADE/, 'nothing half-done');
  await sshOut(l, 'planted', 'rm -f /etc/rc.local');
});
