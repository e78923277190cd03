/**
 * Issue 11, items 5 and 6 on real robots: a list with a wildcard follows a USB hotspot that comes back
 * under another name, with no fleetmasq run in between; and a robot whose container entry point owns
 * the rule (external persistence, the printed snippet). Judged by what the network sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from '../helpers/cli.js';
import { bootId, CANDIDATE_ADDR, canRunLab, observedSource, specFile, sshOut, useLab, waitNewBoot } from '../helpers/lab.js';

const { lab } = canRunLab ? useLab(specFile('test/fixtures/uplinks-fleet.yml', 'tupl')) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 300_000 };
const inv = () => lab().paths.inventory;
const addr = (robot: string) => lab().robots.find((r) => r.name === robot)!.address;
const LIST = ['--interface', 'wlan0,usb+'];

async function reboot(robot: string): Promise<void> {
  const old = await bootId(lab(), robot);
  await sshOut(lab(), robot, 'systemd-run --on-active=1 --timer-property=AccuracySec=100ms systemctl reboot >/dev/null');
  await waitNewBoot(lab(), robot, old);
  await sshOut(lab(), robot, 'systemctl is-system-running --wait >/dev/null 2>&1 || true');
}

test('a list with a wildcard: one rule each, the absent name only warned about; check says what matched', opts, async () => {
  const r = await cli(['apply', '-i', inv(), '-l', 'tether', ...LIST, '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.json.hosts.tether.warnings.join('\n'), /interface wlan0 does not exist on this robot \(yet\)/);
  assert.equal(await observedSource(lab(), 'tether'), addr('tether'));
  const c = await cli(['check', '-i', inv(), '-l', 'tether', ...LIST, '--json']);
  assert.equal(c.code, 0, c.stdout);
  assert.deepEqual(c.json.hosts.tether.details.matched, ['usb0']);
  assert.equal(c.json.hosts.tether.details.interface, 'wlan0,usb+');
});

test('the hotspot re-enumerates as usb1: still masqueraded with no run in between; and after a reboot', opts, async () => {
  const a = addr('tether');
  await sshOut(lab(), 'tether', `ip link set usb0 down && ip link set usb0 name usb1 && ip link set usb1 up && ip addr replace ${a}/16 dev usb1 && ip route replace default via 10.77.0.1 dev usb1 metric 100`);
  assert.equal(await observedSource(lab(), 'tether'), a);
  const c = await cli(['check', '-i', inv(), '-l', 'tether', ...LIST, '--json']);
  assert.equal(c.code, 0, c.stdout);
  assert.deepEqual(c.json.hosts.tether.details.matched, ['usb1']);
  await reboot('tether');
  assert.equal(await observedSource(lab(), 'tether'), a);
  assert.equal((await cli(['verify', '-i', inv(), '-l', 'tether', ...LIST])).code, 0);
});

test('external persistence: check judges the live rule only; the printed entry-point fragment puts it back after a reboot', opts, async () => {
  const ext = ['-l', 'container', '--persistence', 'external'];
  const r = await cli(['apply', '-i', inv(), ...ext, '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(await sshOut(lab(), 'container', 'test -e /etc/systemd/system/fleetmasq-masquerade.service && echo unit || echo none'), 'none\n');
  const c = await cli(['check', '-i', inv(), ...ext, '--json']);
  assert.equal(c.code, 0, c.stdout);
  assert.equal(c.json.hosts.container.details.persistence, 'external');
  assert.match(c.json.hosts.container.warnings.join('\n'), /persistence is managed elsewhere/);
  await reboot('container');
  assert.equal(await observedSource(lab(), 'container'), CANDIDATE_ADDR, 'nothing of fleetmasq\'s brings it back');
  const gone = await cli(['check', '-i', inv(), ...ext, '--json']);
  assert.equal(gone.code, 2);
  assert.match(gone.json.hosts.container.reasons.map((x: { text: string }) => x.text).join('\n'), /the rule is not live on wlan0/);
  // The container starts: its entry point runs the fragment (twice: a restart), then its stack.
  const snippet = await cli(['snippet', 'entrypoint']);
  assert.equal(snippet.code, 0);
  for (let i = 0; i < 2; i++) assert.equal(await sshOut(lab(), 'container', 'sh -s robot-stack', `set -e\n${snippet.stdout}\necho "exec $*"\n`), 'exec robot-stack\n');
  assert.equal(await observedSource(lab(), 'container'), addr('container'));
  assert.equal((await cli(['verify', '-i', inv(), ...ext])).code, 0);
  assert.equal((await sshOut(lab(), 'container', 'iptables -w -t nat -S POSTROUTING')).split('\n').filter((l) => l.endsWith('MASQUERADE')).length, 1);
});

test('check --prom on real robots: promtool accepts the metrics, and they say what check said', opts, async () => {
  const { mkdtempSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { run } = await import('../../src/util/proc.js');
  const file = join(mkdtempSync(join(tmpdir(), 'fmprom-')), 'fleetmasq.prom');
  const c = await cli(['check', '-i', inv(), '-l', 'tether', ...LIST, '--prom', file]);
  assert.equal(c.code, 0, c.stdout);
  const text = readFileSync(file, 'utf8');
  const p = await run('promtool', ['check', 'metrics'], { input: text, nothrow: true });
  assert.equal(p.exitCode, 0, p.stdout + p.stderr);
  assert.match(text, /^fleetmasq_robot_compliant\{robot="tether"\} 1$/m);
  assert.match(text, /^fleetmasq_robot_fired_this_boot\{robot="tether"\} 1$/m);
  assert.match(text, /^fleetmasq_robot_info\{robot="tether",groups="lab",interface="wlan0,usb\+",persistence="systemd"\} 1$/m);
});
