/** Lab spec keys for robots as real fleets build them: volatile roots, busybox userlands, Debian 13. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLabSpec } from '../../lab/spec.js';
import { ConfigError } from '../../src/errors.js';
import { SUPERVISOR_SCRIPT } from '../../lab/supervise.sh.js';

test('lab spec: volatile, userland and os', () => {
  const s = parseLabSpec(`
robots:
  - { name: vol, volatile: true }
  - { name: bb, userland: busybox }
  - { name: d13, os: trixie }
  - { name: plain, volatile: false, userland: gnu, os: bookworm }
`);
  const [vol, bb, d13, plain] = s.robots;
  assert.equal(vol!.volatile, true);
  assert.equal(bb!.userland, 'busybox');
  assert.equal(d13!.os, 'trixie');
  assert.deepEqual([plain!.volatile, plain!.userland, plain!.os], [undefined, undefined, 'bookworm']);
  const bad: [string, RegExp][] = [
    ['robots: [{ name: a, volatile: yes-please }]', /volatile must be true or false/],
    ['robots: [{ name: a, userland: toybox }]', /userland must be one of gnu, busybox/],
    ['robots: [{ name: a, os: buster }]', /os must be one of bookworm, trixie/],
    ['robots: [{ name: a, os: trixie, manager: ufw }]', /layers exist for bookworm only/],
    ['robots: [{ name: a, form: light, volatile: true }]', /cannot have volatile/],
  ];
  for (const [y, re] of bad) assert.throws(() => parseLabSpec(y), (e: unknown) => e instanceof ConfigError && re.test(e.message), y);
});

test("the supervisor boots a volatile robot with systemd-nspawn's --volatile (default no)", () => {
  assert.match(SUPERVISOR_SCRIPT, /VOLATILE=\$\{10:-no\}/);
  assert.match(SUPERVISOR_SCRIPT, /--volatile="\$VOLATILE"/);
});

test('lab spec: an nftables-only robot (iptables: none), never light nor on trixie (its layer is bookworm\'s)', () => {
  assert.equal(parseLabSpec('robots: [{ name: n, iptables: none }]').robots[0]!.iptables, 'none');
  assert.throws(() => parseLabSpec('robots: [{ name: n, iptables: none, form: light }]'), /cannot have iptables: none/);
  assert.throws(() => parseLabSpec('robots: [{ name: n, iptables: none, os: trixie }]'), /bookworm only/);
});
