import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UNIT_NAME, UNIT_PATH, WANTS_LINK, type Facts } from '../../src/facts/facts.js';
import { planApply, planRemove } from '../../src/modules/plan.js';
import { checkCompliance, reasonText } from '../../src/modules/compliance.js';
import { RELOAD_IF_STALE } from '../../src/remote/ops.js';
import { renderScript } from '../../src/remote/script.js';
import { chooseInterface } from '../../src/modules/rule.js';
import { renderUnit } from '../../src/remote/files/unit.js';
import { withBlock } from '../../src/remote/files/rclocal.js';
import { unifiedDiff } from '../../src/util/diff.js';
import { BOOT, factsWith } from '../helpers/facts.js';

const facts = factsWith;

test('auto picks the default route with the lowest metric; no route is an error', () => {
  assert.deepEqual(chooseInterface(facts({ routes: [{ dev: 'eth1', metric: 600 }, { dev: 'wwan0', metric: 50 }] }), 'auto'), { iface: 'wwan0', how: 'default-route' });
  assert.match((chooseInterface(facts({ routes: [] }), 'auto') as { error: string }).error, /no default route/);
  assert.match(planApply(facts({ routes: [] }), { interface: 'auto', persistence: 'auto' }).error!, /no default route/);
});

test('apply on a bare systemd robot: unit, enable, rule — persistence before the live rule', () => {
  const p = planApply(facts(), { interface: 'auto', persistence: 'auto' });
  assert.equal(p.iface, 'wlan0');
  assert.equal(p.method, 'systemd');
  assert.deepEqual(p.steps.map((s) => s.name), ['unit', 'rule']);
  assert.equal(p.changes.length, 3);
  const script = renderScript(p.steps);
  assert.match(script, /^set -eu/);
  assert.match(script, /iptables -w -t nat -C POSTROUTING -o wlan0 -j MASQUERADE 2>\/dev\/null \|\| iptables -w -t nat -A POSTROUTING -o wlan0 -j MASQUERADE/);
});

test('apply when already right plans nothing', () => {
  const f = facts({ rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE'], unit: renderUnit('wlan0'), unitEnabled: 'enabled' });
  const p = planApply(f, { interface: 'auto', persistence: 'auto' });
  assert.deepEqual(p.changes, []);
  assert.deepEqual(p.steps, []);
  assert.equal(checkCompliance(f, { interface: 'auto', persistence: 'auto' }).compliant, true);
});

test('duplicates are removed down to one', () => {
  const rule = '-A POSTROUTING -o wlan0 -j MASQUERADE';
  const p = planApply(facts({ rules: [rule, rule, rule] }), { interface: 'wlan0', persistence: 'systemd' });
  assert.ok(p.changes.includes('remove 2 duplicate(s) of the live rule on wlan0'));
  const c = checkCompliance(facts({ rules: [rule, rule, rule] }), { interface: 'wlan0', persistence: 'auto' });
  assert.deepEqual(c.reasons.find((r) => r.code === 'rule-duplicated'), { code: 'rule-duplicated', iface: 'wlan0', count: 3 });
  assert.ok(c.reasons.map(reasonText).includes('the rule is live 3 times on wlan0 (duplicates)'));
});

test('switching systemd -> rc.local removes the unit; rc.local on a non-systemd robot', () => {
  const f = facts({ unit: renderUnit('wlan0'), unitEnabled: 'enabled' });
  const p = planApply(f, { interface: 'wlan0', persistence: 'rc.local' });
  assert.deepEqual(p.steps.map((s) => s.name), ['rclocal', 'unit-remove', 'rule']);
  const ns = planApply(facts({ systemd: false }), { interface: 'auto', persistence: 'auto' });
  assert.equal(ns.method, 'rc.local');
  assert.match(planApply(facts({ systemd: false }), { interface: 'auto', persistence: 'systemd' }).error!, /systemd is not PID 1/);
});

test('a copy in the other backend is reported', () => {
  const p = planApply(facts({ other: { backend: 'legacy', rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE'] } }), { interface: 'auto', persistence: 'auto' });
  assert.match(p.warnings[0]!, /iptables-legacy tables, invisible/);
});

test('check: reasons for a non-compliant robot, fired-at-this-boot from the marker', () => {
  const c = checkCompliance(facts({ links: [{ name: 'wlan0', up: false, lowerUp: false }] }), { interface: 'auto', persistence: 'auto' });
  assert.equal(c.compliant, false);
  assert.deepEqual(c.reasons, [{ code: 'rule-missing', iface: 'wlan0' }, { code: 'iface-down', iface: 'wlan0' }, { code: 'unit-missing' }]);
  assert.deepEqual(c.reasons.map(reasonText), ['the rule is not live on wlan0', 'interface wlan0 is down', 'persistence missing: no fleetmasq-masquerade.service']);
  const rc = withBlock(undefined, 'wlan0');
  const ok = checkCompliance(
    facts({ rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE'], rcLocal: rc, marker: { bootId: BOOT, method: 'rc.local', iface: 'wlan0' } }),
    { interface: 'auto', persistence: 'auto' },
  );
  assert.equal(ok.compliant, true);
  assert.equal(ok.method, 'rc.local');
  assert.equal(ok.firedThisBoot, true);
});

test('remove deletes every copy, the unit, the block, the marker', () => {
  const rule = '-A POSTROUTING -o eth0 -j MASQUERADE';
  const f = facts({
    rules: [rule, rule],
    unit: renderUnit('eth0'),
    unitEnabled: 'enabled',
    other: { backend: 'legacy', rules: [rule] },
    marker: { bootId: BOOT, method: 'systemd', iface: 'eth0' },
  });
  const p = planRemove(f, { interface: 'auto' });
  assert.deepEqual(p.steps.map((s) => s.name), ['unit-remove', 'rule-delete', 'rule-delete-other', 'marker']);
  assert.deepEqual(planRemove(facts(), { interface: 'auto' }).steps, []);
});

test('unified diff', () => {
  assert.equal(unifiedDiff('a\nb\nc\n', 'a\nB\nc\n', 'x', 'y'), '--- x\n+++ y\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
  assert.equal(unifiedDiff('', 'x\ny\n', '/dev/null', 'f'), '--- /dev/null\n+++ f\n@@ -0,0 +1,2 @@\n+x\n+y\n', 'a new file');
  assert.equal(unifiedDiff('x\n', '', 'f', '/dev/null'), '--- f\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n', 'a deleted file');
  assert.equal(unifiedDiff('same', 'same', 'x', 'y'), '');
});

test('diffs are what diff -u prints (hunks compared with GNU diff), new files and missing final newlines too', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { run } = await import('../../src/util/proc.js');
  const d = mkdtempSync(join(tmpdir(), 'fmdiff-'));
  const cases: [string, string][] = [
    ['', '#!/bin/sh\nexit 0\n'],
    ['#!/bin/sh\nexit 0\n', ''],
    ['a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n', 'a\nb\nC\nd\ne\nf\ng\nh\ni\nJ\nk\n'],
    ['#!/bin/sh\necho hi\nexit 0', '#!/bin/sh\necho hi\n# block\nexit 0'],
    ['one\ntwo', 'one\ntwo\n'],
    ['x\n', 'y'],
  ];
  for (const [a, b] of cases) {
    writeFileSync(join(d, 'a'), a);
    writeFileSync(join(d, 'b'), b);
    const gnu = await run('diff', ['-u', join(d, 'a'), join(d, 'b')], { nothrow: true });
    const hunks = (text: string) => text.split('\n').filter((l) => !l.startsWith('--- ') && !l.startsWith('+++ ')).join('\n');
    assert.equal(hunks(unifiedDiff(a, b, 'a', 'b')), hunks(gnu.stdout), JSON.stringify([a, b]));
  }
});

test('a named interface that does not exist fails the robot unless the operator says it will appear', () => {
  const p = planApply(facts(), { interface: 'wlna0', persistence: 'auto' });
  assert.match(p.error ?? '', /interface wlna0 does not exist on this robot \(it has lo, wlan0\): nothing changed/);
  const allowed = planApply(facts(), { interface: 'wwan0', persistence: 'auto', allowAbsentInterface: true });
  assert.equal(allowed.error, undefined);
  assert.match(allowed.warnings.join(' '), /interface wwan0 does not exist on this robot \(yet\)/);
  assert.deepEqual(planApply(facts(), { interface: 'wlan+', persistence: 'auto' }).warnings, [], 'a wildcard is taken as it is');
});

test('switching interface moves the rule fleetmasq put live; the operator\'s own masquerading stays', () => {
  const f = facts({
    links: [...facts().links, { name: 'eth0', up: true, lowerUp: true }],
    rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE', '-A POSTROUTING -o docker0 -j MASQUERADE'],
    unit: renderUnit('wlan0'),
    unitEnabled: 'enabled',
    marker: { bootId: BOOT, method: 'systemd', iface: 'wlan0' },
  });
  const p = planApply(f, { interface: 'eth0', persistence: 'auto' });
  assert.ok(p.changes.includes('move the live rule from wlan0 to eth0: iptables -t nat -D POSTROUTING -o wlan0 -j MASQUERADE'), p.changes.join('\n'));
  const script = renderScript(p.steps);
  assert.match(script, /iptables -w -t nat -D POSTROUTING -o wlan0 -j MASQUERADE/);
  assert.doesNotMatch(script, /docker0/);
  // The live rule changes last: persistence first, so a robot cut off half-way keeps a working boot hook.
  assert.deepEqual(p.steps.map((s) => s.name), ['unit', 'rule-move', 'rule']);
});

test('systemd reload only when its view of the unit is stale, checked on the robot', () => {
  const unitSteps = (f: Facts) => planApply(f, { interface: 'auto', persistence: 'systemd' } as never).steps.find((s) => s.name === 'unit')?.sh ?? '';
  // First install: write + enable without a reload, then the guard (a new unit loads from disk on demand).
  const fresh = unitSteps(facts());
  assert.match(fresh, /systemctl enable --quiet --no-reload fleetmasq-masquerade\.service/);
  assert.ok(fresh.endsWith(RELOAD_IF_STALE));
  assert.equal(fresh.match(/daemon-reload/g)?.length, 1, 'only the guarded one');
  // The file changes while enabled: the guard, no enable.
  const changed = unitSteps(facts({ unit: renderUnit('eth0'), unitEnabled: 'enabled' }));
  assert.ok(changed.endsWith(RELOAD_IF_STALE));
  assert.doesNotMatch(changed, /systemctl enable/);
  // Nothing to write: no guard either.
  assert.equal(unitSteps(facts({ unit: renderUnit('wlan0'), unitEnabled: 'enabled', rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE'] })), '');
});

test('the facts read "enabled" from the symlink enable makes for the unit\'s own WantedBy', () => {
  for (const iface of ['wlan0', 'eth0', 'wwan+']) {
    const wantedBy = /^WantedBy=(\S+)$/m.exec(renderUnit(iface))?.[1];
    assert.equal(WANTS_LINK, `${UNIT_PATH.slice(0, UNIT_PATH.lastIndexOf('/'))}/${wantedBy}.wants/${UNIT_NAME}`);
  }
});

test('rollout stop rules: a batch where every robot failed, a failed or unproven canary, max-fail-percent', async () => {
  const { stopAfterBatch, stopRules, stopMessage } = await import('../../src/runner/batches.js');
  const c = (failed: number, succeeded: number, size: number) => ({ failed, succeeded, size });
  const list = stopRules([{ count: 1 }, { percent: 50 }], undefined);
  assert.equal(list.canary, true);
  assert.equal(stopAfterBatch(0, c(1, 0, 1), list)?.kind, 'all-failed');
  assert.equal(stopAfterBatch(0, c(1, 1, 2), list)?.kind, 'canary', 'any failure in the canary batch');
  assert.equal(stopAfterBatch(0, c(0, 0, 1), list)?.kind, 'canary-unproven', 'a canary that was skipped proves nothing');
  assert.equal(stopAfterBatch(0, c(0, 1, 1), list), undefined);
  assert.equal(stopAfterBatch(1, c(1, 3, 4), list), undefined, 'later batches: only the all-failed rule without a threshold');
  assert.equal(stopAfterBatch(1, c(4, 0, 4), list)?.kind, 'all-failed');
  assert.equal(stopAfterBatch(1, c(0, 0, 4), list), undefined, 'skipped robots are not failures');
  // An explicit threshold replaces the canary rule; the all-failed rule stays (Ansible's).
  const explicit = stopRules([{ count: 2 }, { percent: 50 }], 50);
  assert.equal(explicit.canary, false);
  assert.equal(stopAfterBatch(0, c(1, 1, 2), explicit), undefined);
  assert.equal(stopAfterBatch(0, c(2, 0, 2), explicit)?.kind, 'all-failed');
  assert.equal(stopAfterBatch(1, c(3, 2, 5), explicit)?.kind, 'max-fail');
  // A single serial value has no canary; no serial at all is one batch.
  assert.equal(stopRules([{ count: 5 }], undefined).canary, false);
  assert.match(stopMessage({ kind: 'canary', batch: 1, failed: 1, size: 1 }), /the canary batch failed \(1 of 1 robot\): later batches not started/);
});

test('rc.local behind a symlink: the target is written (quoted), the mode kept; an odd target is refused', () => {
  const rc = { content: '#!/bin/sh\nexit 0\n', mode: 0o700, path: '/etc/rc.d/rc.local' };
  const p = planApply(facts({ rcLocal: rc }), { interface: 'auto', persistence: 'rc.local' });
  assert.equal(p.error, undefined);
  const step = p.steps.find((s) => s.name === 'rclocal')!.sh;
  assert.match(step, /^fm_write '?\/etc\/rc\.d\/rc\.local'? 0700 /);
  const odd = planApply(facts({ rcLocal: { ...rc, path: '/etc/rc.d/$(reboot)' } }), { interface: 'auto', persistence: 'rc.local' });
  assert.match(odd.error ?? '', /links to "\/etc\/rc\.d\/\$\(reboot\)": an unusual path/);
});
