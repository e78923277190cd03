/** Issue 16 on lab robots: robots that fight back (endless output, escape sequences, odd rc.local files). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cli } from '../helpers/cli.js';
import { canRunLab, specFile, sshOut, useLab } from '../helpers/lab.js';
import type { LabState } from '../../src/lab/lab.js';

const setup = async (l: LabState) => {
  // An iptables earlier on the PATH than the real one (fleetmasq's scripts set PATH=/usr/local/sbin:...).
  // Its version answer is right; listing rules streams without end.
  await sshOut(l, 'noisy', 'printf "#!/bin/sh\\ncase \\"\\$*\\" in *-V*) exec /usr/sbin/iptables \\"\\$@\\";; esac\\nexec yes MASQUERADE-MASQUERADE-MASQUERADE\\n" > /usr/local/sbin/iptables && chmod 755 /usr/local/sbin/iptables');
  await sshOut(l, 'escapes', "printf '#!/bin/sh\\nprintf \"\\\\033]0;owned\\\\007\\\\033[31mRED\\\\033[2J\" >&2\\nexit 1\\n' > /usr/local/sbin/iptables && chmod 755 /usr/local/sbin/iptables");
  await sshOut(l, 'linked', 'mkdir -p /etc/rc.d && printf "#!/bin/sh\\necho vendor\\nexit 0\\n" > /etc/rc.d/rc.local && chmod 700 /etc/rc.d/rc.local && ln -s rc.d/rc.local /etc/rc.local');
  await sshOut(l, 'oddmode', 'printf "#!/bin/sh\\necho mine\\nexit 0\\n" > /etc/rc.local && chmod 700 /etc/rc.local');
};
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
