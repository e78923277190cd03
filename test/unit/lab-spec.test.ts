import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLabSpec, planLab, robotAddress, uniformSpec } from '../../lab/spec.js';
import { ConfigError } from '../../src/errors.js';

test('uniform spec names robots robot-01.. with wlan0 and root login', () => {
  const s = uniformSpec('demo', 3);
  assert.deepEqual(s.robots.map((r) => r.name), ['robot-01', 'robot-02', 'robot-03']);
  assert.ok(s.robots.every((r) => r.interface === 'wlan0' && r.login === 'root' && r.iptables === 'nft'));
});

test('count expands a robot entry, defaults apply, overrides win', () => {
  const s = parseLabSpec(`
name: x
defaults: { interface: eth0 }
robots:
  - { name: cam, count: 3 }
  - { name: leg, iptables: legacy, interface: wwan0, rtt_ms: 160, on_reboot: poweroff }
`);
  assert.deepEqual(s.robots.map((r) => r.name), ['cam-01', 'cam-02', 'cam-03', 'leg']);
  assert.equal(s.robots[0]!.interface, 'eth0');
  assert.deepEqual(
    { i: s.robots[3]!.interface, b: s.robots[3]!.iptables, rtt: s.robots[3]!.rttMs, o: s.robots[3]!.onReboot },
    { i: 'wwan0', b: 'legacy', rtt: 160, o: 'poweroff' },
  );
});

test('invalid specs are config errors', () => {
  const bad = [
    'robots: []',
    'name: Bad_Name\nrobots: [{name: a}]',
    'robots: [{name: a, interface: "wlan0; reboot"}]',
    'robots: [{name: a, login: admin}]',
    'robots: [{name: a}, {name: a}]',
    'robots: [{name: a, colour: red}]',
    'robots: [{name: a, only_via: nobody}]',
    'robots: [{name: a, count: 0}]',
    'robots: [{name: a\n',
  ];
  for (const text of bad) assert.throws(() => parseLabSpec(text, 'spec.yml'), ConfigError, text);
});

test('addresses are unique, on 10.77/16, never .0/.255, and machine names fit a veth name', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const a = robotAddress(i);
    assert.match(a, /^10\.77\.\d+\.\d+$/);
    const last = Number(a.split('.')[3]);
    assert.ok(last >= 10 && last < 255);
    assert.ok(!seen.has(a));
    seen.add(a);
  }
  const plans = planLab(uniformSpec('abcdef', 5000));
  assert.ok(plans.every((p) => `vb-${p.machine}`.length <= 15));
});
