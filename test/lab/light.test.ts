/**
 * Issue 15, item 1: the light form of lab robot (a network namespace, an overlay root and one sshd each;
 * no systemd) is a real robot for what it models. fleetmasq applies, checks and removes on it, judged by
 * what the network sees; the fleet is reached through the relay or directly from inside the lab's
 * namespace; the relay still stalls its link; and `lab down` leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cli } from '../helpers/cli.js';
import { CANDIDATE_ADDR, canRunLab, observedSource, sshOut, useLab } from '../helpers/lab.js';
import { labDown, labLink, labStatus } from '../../lab/lab.js';
import { parseLabSpec } from '../../lab/spec.js';
import { run } from '../../src/util/proc.js';

const SPEC = `name: tlight
defaults: { form: light }
robots:
  - { name: lt, count: 2 }
  - { name: legacy, iptables: legacy, interface: eth0 }
  - { name: sudo, login: sudo }
`;
const spec = parseLabSpec(SPEC);
const { lab } = canRunLab ? useLab(spec) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 300_000 };
const addr = (robot: string) => lab().robots.find((r) => r.name === robot)!.address;
const NAMES = ['lt-01', 'lt-02', 'legacy', 'sudo'];

test('light robots: apply masquerades every uplink as the network sees it; check agrees; remove takes it away', opts, async () => {
  for (const r of NAMES) assert.equal(await observedSource(lab(), r), CANDIDATE_ADDR, `${r} is not masqueraded before`);
  const a = await cli(['apply', '-i', lab().paths.inventory, '--json']);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  for (const r of NAMES) {
    assert.equal(a.json.hosts[r].status, 'changed');
    assert.equal(a.json.hosts[r].details.persistence, 'external', 'a light robot has no boots: persistence is not modelled');
    assert.equal(await observedSource(lab(), r), addr(r), `${r} is masqueraded after apply`);
  }
  assert.equal(a.json.hosts.legacy.details.backend, 'legacy');
  assert.equal(a.json.hosts.legacy.details.interface, 'eth0');
  const c = await cli(['check', '-i', lab().paths.inventory, '--json']);
  assert.equal(c.code, 0, c.stdout);
  const rm = await cli(['remove', '-i', lab().paths.inventory, '--json']);
  assert.equal(rm.code, 0, rm.stdout + rm.stderr);
  for (const r of NAMES) assert.equal(await observedSource(lab(), r), CANDIDATE_ADDR, `${r} is not masqueraded after remove`);
});

test('light robots: each has its own namespace, root and host key; reached directly from inside the lab namespace too', opts, async () => {
  const ids = await Promise.all(NAMES.map((r) => sshOut(lab(), r, 'readlink /proc/self/ns/net; cat /etc/hostname')));
  assert.equal(new Set(ids).size, NAMES.length);
  assert.equal(new Set(lab().robots.map((r) => r.hostKey)).size, NAMES.length);
  assert.match(readFileSync(lab().paths.inventoryDirect, 'utf8'), /^# .*direct/);
  assert.doesNotMatch(readFileSync(lab().paths.inventoryDirect, 'utf8'), /ProxyCommand/);
  const r = await run('nsenter', [`--net=/run/netns/${lab().paths.netns}`, process.execPath, 'bin/fleetmasq.js', 'check', '-i', lab().paths.inventoryDirect, '--json'], { nothrow: true });
  assert.equal(r.exitCode, 2, r.stderr);
  const doc = JSON.parse(r.stdout);
  for (const n of NAMES)
    assert.deepEqual([n, doc.hosts[n].reasons.map((x: { code: string; text: string }) => ({ code: x.code, text: x.text }))], [n, [{ code: 'rule-missing', text: 'the rule is not live on ' + (n === 'legacy' ? 'eth0' : 'wlan0') }]]);
  const st = await labStatus(lab());
  assert.deepEqual(st.map((s) => [s.name, s.power, s.reachable]), NAMES.map((n) => [n, 'running', true]));
});

test('a light robot whose link the relay stalls is reported unreachable within the connect timeout', opts, async () => {
  await labLink(lab(), 'lt-02', { stall: true });
  try {
    const r = await cli(['check', '-i', lab().paths.inventory, '-l', 'lt-02', '--connect-timeout', '3', '--json']);
    assert.equal(r.code, 4, r.stdout);
    assert.equal(r.json.hosts['lt-02'].error.kind, 'unreachable');
  } finally {
    await labLink(lab(), 'lt-02', { stall: false });
  }
});

test('lab down removes light robots whole: sshd, namespaces, mounts, files', opts, async () => {
  const l = lab();
  await labDown(l.name);
  assert.deepEqual(existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`fmlab-${l.name}`)) : [], []);
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(l.paths.dir));
  assert.ok(!existsSync(l.paths.dir));
  const left = (await run('sh', ['-c', `for p in /proc/[0-9]*; do readlink $p/root; done 2>/dev/null | grep -c '^${l.paths.dir}/' || true`])).stdout.trim();
  assert.equal(left, '0');
});

test('a light robot cannot be given what it does not model', () => {
  assert.throws(() => parseLabSpec('robots:\n  - { name: a, form: light, manager: ufw }\n'), /light robot .* cannot have manager/);
  assert.throws(() => parseLabSpec('robots:\n  - { name: a, form: light, rc_local: exit0, on_reboot: poweroff }\n'), /cannot have rc_local, on_reboot/);
  assert.throws(() => parseLabSpec('robots:\n  - { name: b, form: light }\n  - { name: a, only_via: b }\n'), /'b' is a light robot/);
  assert.throws(() => parseLabSpec('robots:\n  - { name: a, form: tiny }\n'), /form must be one of full, light/);
});
