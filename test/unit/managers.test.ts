/** Firewall managers (issue 11): the facts parser, the hooks (pure), the plans and what check says. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimestamp, parseUnits, type ManagerFacts } from '../../src/facts/managers.js';
import type { Facts } from '../../src/facts/facts.js';
import { firewalldFound, firewalldMissing, hookState } from '../../src/modules/hooks.js';
import { desiredHook, withoutHook } from '../../src/remote/files/hooks.js';
import { directRules, firewalldDirectSh } from '../../src/remote/firewalld.js';
import { planApply, planRemove } from '../../src/modules/plan.js';
import { checkCompliance, reasonText } from '../../src/modules/compliance.js';
import { renderUnit } from '../../src/remote/files/unit.js';
import { managersText } from '../../src/report/summary.js';
import { BOOT, factsWith } from '../helpers/facts.js';

const UFW_AFTER_INIT = `#!/bin/sh
#
# after.init: if executable, called by ufw-init.
set -e

case "$1" in
start)
    # typically required
    ;;
esac
`;

/** A compliant systemd robot (the shared fixture, with the rule live and the unit installed) beside `managers`. */
function facts(managers: Partial<ManagerFacts>, over: Partial<Facts> = {}): Facts {
  return factsWith({
    rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE'],
    routes: [{ dev: 'wlan0', metric: 100 }],
    links: [{ name: 'wlan0', up: true, lowerUp: true }],
    unit: renderUnit('wlan0'),
    unitEnabled: 'enabled',
    managers: { others: [], ...managers },
    ...over,
  });
}

test('systemd timestamps: unix and the default format', () => {
  assert.equal(parseTimestamp('@1764127811'), 1764127811);
  assert.equal(parseTimestamp('Thu 2026-11-26 03:30:11 UTC'), Date.UTC(2026, 10, 26, 3, 30, 11) / 1000);
  assert.equal(parseTimestamp('n/a'), undefined);
  assert.equal(parseTimestamp(''), undefined);
  assert.equal(parseUnits(['Id=a.service', 'ActiveState=reloading']).get('a.service')?.active, true);
});

// firewalld is no longer an edited file (issue 24): its rules go through firewall-cmd, tested below.
const EDITED: { manager: 'ufw'; file?: { mode: number; content: string } }[] = [
  { manager: 'ufw', file: { mode: 0o640, content: UFW_AFTER_INIT } },
  { manager: 'ufw', file: { mode: 0o755, content: 'echo no shebang, no final newline' } },
  { manager: 'ufw' },
];

for (const c of EDITED) {
  test(`hooks: ${c.manager} ${c.file ? `(mode ${c.file.mode.toString(8)})` : '(no file)'}: added, current, then removed to the byte and mode`, () => {
    const want = desiredHook(c.manager, 'wlan0', c.file);
    assert.ok(!('error' in want));
    assert.ok(want.mode & 0o100, 'ufw runs after.init only when it is executable');
    assert.match(want.content, /case "\$\{1-\}" in start\|stop\) iptables -w -t nat -C POSTROUTING -o wlan0 -j MASQUERADE/);
    if (c.file?.content.startsWith('#!')) assert.equal(want.content.split('\n')[0], '#!/bin/sh');
    for (const l of (c.file?.content ?? '').split('\n')) assert.ok(want.content.split('\n').includes(l), `kept: ${l}`);
    assert.deepEqual(hookState(c.manager, 'wlan0', want), { ok: true });
    assert.deepEqual(hookState(c.manager, 'eth0', want), { ok: false, why: 'stale' });
    assert.deepEqual(desiredHook(c.manager, 'wlan0', want), want, 'idempotent');
    const back = withoutHook(c.manager, want);
    assert.ok(!('error' in back));
    assert.equal(back.present, true);
    assert.deepEqual(back.file, c.file, 'the file as it was (or none: fleetmasq created it)');
    // Moved to another interface and back out: still the original.
    const moved = desiredHook(c.manager, 'usb+', want);
    assert.ok(!('error' in moved));
    assert.deepEqual((withoutHook(c.manager, moved) as { file?: unknown }).file, c.file);
  });
}

test('hooks: damaged markers and a direct.xml without </direct> are refused, with what to do', () => {
  const good = desiredHook('ufw', 'wlan0', { mode: 0o640, content: UFW_AFTER_INIT }) as { content: string; mode: number };
  const damaged = { mode: good.mode, content: good.content.replace(/^# END fleetmasq managed block$/m, '') };
  assert.match((desiredHook('ufw', 'wlan0', damaged) as { error: string }).error, /after\.init its fleetmasq markers are damaged/);
  assert.match((withoutHook('ufw', damaged) as { error: string }).error, /damaged/);
  assert.deepEqual(hookState('ufw', 'wlan0', damaged).ok, false);
  // A self-closed direct.xml is no obstacle any more: firewalld's own tool adds the rule (issue 24).
  const selfClosed = { mode: 0o644, content: '<?xml version="1.0"?>\n<direct/>\n' };
  assert.match(firewalldDirectSh(firewalldMissing('wlan0', selfClosed), []), /--add-rule ipv4 nat POSTROUTING 0 -o wlan0 -j MASQUERADE/);
  // A file the user changed the mode of since: their mode stays.
  const chmodded = { ...good, mode: 0o700 };
  assert.equal((withoutHook('ufw', chmodded) as { file: { mode: number } }).file.mode, 0o700);
});

test('plans: a hook for every manager present, persistence first; remove takes every one out', () => {
  const present: Partial<ManagerFacts> = {
    'netfilter-persistent': { savesNat: true, saved: [] },
    nftables: { flushes: true },
    ufw: { enabled: true, manageBuiltins: true, forwarding: false, beforeNat: false, hook: { mode: 0o640, content: UFW_AFTER_INIT } },
    firewalld: { backend: 'nftables' },
  };
  const f = facts(present, { rules: [] });
  const plan = planApply(f, { interface: 'auto', persistence: 'auto' });
  assert.equal(plan.error, undefined);
  assert.deepEqual(plan.ops.map((o) => (o.kind === 'hook' ? `hook ${o.manager}` : o.kind)), ['hook netfilter-persistent', 'hook nftables', 'hook ufw', 'firewalld-direct', 'rule']);
  assert.match(plan.steps.find((s) => s.name === 'hook-firewalld')!.sh, /firewall-offline-cmd --direct "\$@"[\s\S]*fm_fw --query-rule ipv4 nat POSTROUTING 0 -o wlan0 -j MASQUERADE >\/dev\/null 2>&1 \|\| fm_fw --add-rule ipv4 nat POSTROUTING 0 -o wlan0 -j MASQUERADE/);
  assert.ok(plan.diffs.includes('firewalld permanent direct rules:\n+ ipv4 nat POSTROUTING 0 -o wlan0 -j MASQUERADE\n'));
  assert.ok(plan.steps.find((s) => s.name === 'hook-nftables')!.sh.includes('systemctl daemon-reload'));
  assert.ok(!plan.steps.find((s) => s.name === 'hook-ufw')!.sh.includes('daemon-reload'));
  assert.ok(plan.diffs.some((d) => d.startsWith('--- /dev/null\n+++ /usr/share/netfilter-persistent/plugins.d/90-fleetmasq')));
  const c = checkCompliance(f, { interface: 'auto', persistence: 'auto' });
  assert.equal(c.persistenceInstalled, false);
  assert.deepEqual(c.reasons.filter((r) => r.code === 'hook-missing').map((r) => (r as { manager: string }).manager), ['netfilter-persistent', 'nftables', 'ufw', 'firewalld']);

  // Applied: nothing left; compliant.
  const hooked: Partial<ManagerFacts> = Object.fromEntries(
    Object.entries(present).map(([k, v]) => {
      if (k === 'firewalld') return [k, { ...v, hook: { mode: 0o644, content: '<?xml version="1.0" encoding="utf-8"?>\n<direct>\n  <rule priority="0" table="nat" ipv="ipv4" chain="POSTROUTING">-o wlan0 -j MASQUERADE</rule>\n</direct>\n' } }];
      const op = plan.ops.find((o) => o.kind === 'hook' && o.manager === k) as { after: { mode: number; content: string } };
      return [k, { ...v, hook: op.after }];
    }),
  );
  const done = facts(hooked);
  assert.deepEqual(planApply(done, { interface: 'auto', persistence: 'auto' }).ops, []);
  assert.equal(checkCompliance(done, { interface: 'auto', persistence: 'auto' }).compliant, true);
  const rm = planRemove(done, { interface: 'auto' });
  assert.deepEqual(rm.ops.filter((o) => o.kind === 'hook-remove').map((o) => [(o as { manager: string }).manager, (o as { after?: unknown }).after]), [
    ['netfilter-persistent', undefined],
    ['nftables', undefined],
    ['ufw', { mode: 0o640, content: UFW_AFTER_INIT }],
  ]);
  assert.deepEqual(rm.ops.filter((o) => o.kind === 'firewalld-direct'), [{ kind: 'firewalld-direct', add: [], remove: [{ iface: 'wlan0', priority: 0 }] }]);
  assert.match(rm.steps.find((s) => s.name === 'hook-remove-nftables')!.sh, /rm -f \/etc\/systemd\/system\/nftables\.service\.d\/fleetmasq\.conf[\s\S]*rmdir[\s\S]*daemon-reload/);
});

test('remove warns when rules.v4 saved the rule (it would come back at boot)', () => {
  const f = facts({ 'netfilter-persistent': { savesNat: true, saved: ['-A POSTROUTING -o wlan0 -j MASQUERADE'] } });
  assert.match(planRemove(f, { interface: 'auto' }).warnings.join('\n'), /rules\.v4 holds the rule.*delete the line '-A POSTROUTING -o wlan0 -j MASQUERADE'/);
});

test('check names the likely culprit of a missing rule, and when', () => {
  const fired = 1764127811;
  const nft = (since: number) => facts({ nftables: { flushes: true, unit: { enabled: true, active: true, since } } }, { rules: [], marker: { bootId: BOOT, method: 'systemd', iface: 'wlan0', at: fired } });
  const text = (f: Facts) => checkCompliance(f, { interface: 'auto', persistence: 'auto' }).reasons.map(reasonText).join('\n');
  assert.match(text(nft(fired + 329)), /the rule is not live on wlan0: fired at this boot \(03:30:11 UTC\), gone since: nftables\.service \(re\)started at 03:35:40 UTC and its conf flushes the ruleset/);
  // Started before the boot hook fired: a reload (no time recorded) is the likely one.
  assert.match(text(nft(fired - 5)), /gone since: likely nftables \(its conf flushes the ruleset; a reload leaves no time in systemd\)/);
  // Nothing that flushes: said plainly.
  assert.match(text(facts({}, { rules: [], marker: { bootId: BOOT, method: 'systemd', iface: 'wlan0', at: fired } })), /gone since: removed by hand or by a tool fleetmasq does not know/);
  // Never put in place at this boot, nothing that flushes: no story.
  assert.match(text(facts({}, { rules: [] })), /^the rule is not live on wlan0$/m);
  // An nftables conf that does not flush is no culprit.
  assert.match(text(facts({ nftables: { flushes: false } }, { rules: [] })), /^the rule is not live on wlan0$/m);
  // Never installed by fleetmasq (no unit, no block, no marker): no culprit either.
  assert.match(text(facts({ nftables: { flushes: true } }, { rules: [], unit: undefined, unitEnabled: undefined })), /^the rule is not live on wlan0$/m);
  assert.match(text(facts({ nftables: { flushes: false } }, { rules: [] })), /^nftables is here, and fleetmasq's hook beside it \(.*\) is missing: the rule does not survive its next start, restart or reload$/m);
});

test('Docker with FORWARD DROP and forwarding on: a warning; managers in one line for the reports', () => {
  const c = checkCompliance(facts({ docker: { forwardDrop: true, ipForward: true }, others: ['NetworkManager'] }), { interface: 'auto', persistence: 'auto' });
  assert.equal(c.compliant, true);
  assert.match(c.notes.join('\n'), /Docker set the FORWARD policy to DROP: traffic forwarded through this robot .* is dropped whatever the nat rule does/);
  assert.equal(managersText(c.managers), 'docker (FORWARD policy DROP) · NetworkManager (does not flush the nat table)');
  assert.equal(checkCompliance(facts({ docker: { forwardDrop: true, ipForward: false } }), { interface: 'auto', persistence: 'auto' }).notes.length, 0);
});

test('interface lists and wildcards: one rule each; absent names in a list are fine while another is there; check says which matched', () => {
  const f = facts({}, { rules: [], links: [{ name: 'wlan0', up: true, lowerUp: true }, { name: 'usb0', up: true, lowerUp: true }] });
  const s = { interface: 'wwan0,usb+', persistence: 'auto' as const };
  const plan = planApply(f, s);
  assert.equal(plan.error, undefined);
  assert.deepEqual(plan.ops.filter((o) => o.kind === 'rule').map((o) => (o as { iface: string }).iface), ['wwan0', 'usb+']);
  assert.match(plan.warnings.join('\n'), /interface wwan0 does not exist on this robot \(yet\)/);
  const unit = (plan.ops.find((o) => o.kind === 'unit') as { iface: string }).iface;
  assert.equal(unit, 'wwan0,usb+');
  assert.match(renderUnit(unit), /ExecStart=\/bin\/sh -c 'fm_r=0; for fm_i in wwan0 usb\+; do iptables -w -t nat -C POSTROUTING -o "\$\$fm_i" -j MASQUERADE 2>\/dev\/null \|\| iptables -w -t nat -A POSTROUTING -o "\$\$fm_i" -j MASQUERADE \|\| fm_r=1; done; \[ "\$\$fm_r" = 0 \]'/);
  const done = facts({}, { rules: ['-A POSTROUTING -o wwan0 -j MASQUERADE', '-A POSTROUTING -o usb+ -j MASQUERADE'], links: f.links, unit: renderUnit(unit) });
  const c = checkCompliance(done, s);
  assert.equal(c.compliant, true, JSON.stringify(c.reasons));
  assert.deepEqual(c.matched, ['usb0']);
  assert.deepEqual(planApply(done, s).ops, []);
  // Only named parts, none there: the typo guard holds.
  assert.match(planApply(f, { interface: 'wwan0,eth7', persistence: 'auto' }).error ?? '', /interface wwan0, eth7 does not exist/);
  // Moving from wlan0 to the list takes fleetmasq's old rule along.
  const old = facts({}, { links: f.links, rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE'], marker: { bootId: BOOT, method: 'systemd', iface: 'wlan0' } });
  assert.ok(planApply(old, s).ops.some((o) => o.kind === 'rule-move' && o.from === 'wlan0'));
  // Remove takes every part.
  assert.deepEqual(planRemove(done, s).ops.filter((o) => o.kind === 'rule-delete').map((o) => (o as { iface: string }).iface), ['wwan0', 'usb+']);
});

test('external persistence: only the live rule is judged; fleetmasq\'s own boot hooks go', () => {
  const s = { interface: 'auto', persistence: 'external' as const };
  const c = checkCompliance(facts({ nftables: { flushes: true } }, { unit: undefined, unitEnabled: undefined }), s);
  assert.equal(c.compliant, true, JSON.stringify(c.reasons));
  assert.equal(c.method, 'external');
  assert.match(c.notes.join('\n'), /persistence is managed elsewhere/);
  const plan = planApply(facts({}), s);
  assert.deepEqual(plan.ops.map((o) => o.kind), ['unit-remove']);
  assert.equal(checkCompliance(facts({}, { rules: [] }), s).compliant, false);
});

test('review fixes: a hook left by an uninstalled manager is removed; a symlinked or non-UTF-8 file is never edited; the direct.xml hint for a list', () => {
  const orphan = facts({ hooks: { nftables: { mode: 0o644, content: '# Managed by fleetmasq: x\n' } } });
  assert.deepEqual(planRemove(orphan, { interface: 'auto' }).ops.filter((o) => o.kind === 'hook-remove').map((o) => (o as { manager: string }).manager), ['nftables']);
  assert.match((desiredHook('ufw', 'wlan0', { mode: 0o640, content: UFW_AFTER_INIT, link: true }) as { error: string }).error, /symbolic link/);
  assert.match((desiredHook('ufw', 'wlan0', { mode: 0o640, content: UFW_AFTER_INIT, notUtf8: true }) as { error: string }).error, /not UTF-8/);
  assert.deepEqual(firewalldMissing('wlan0,usb+', { mode: 0o644, content: '<direct/>\n' }), ['wlan0', 'usb+']);
  // A manager whose hook is in place is blamed only as "reloaded by hand"; a disabled, stopped one not at all.
  const fired = 1764127811;
  const hookedNft = facts(
    { nftables: { flushes: true, unit: { enabled: true, active: true, since: fired + 60 }, hook: desiredHook('nftables', 'wlan0') as { mode: number; content: string } } },
    { rules: [], marker: { bootId: BOOT, method: 'systemd', iface: 'wlan0', at: fired } },
  );
  assert.match(checkCompliance(hookedNft, { interface: 'auto', persistence: 'auto' }).reasons.map(reasonText).join('\n'), /likely nftables reloaded by hand, past fleetmasq's hook/);
  const off = facts({ nftables: { flushes: true, unit: { enabled: false, active: false } } }, { rules: [], marker: { bootId: BOOT, method: 'systemd', iface: 'wlan0', at: fired } });
  assert.match(checkCompliance(off, { interface: 'auto', persistence: 'auto' }).reasons.map(reasonText).join('\n'), /removed by hand or by a tool fleetmasq does not know/);
});

describe('hooks found by content (issue 24)', () => {
  const ADMIN = '<rule priority="2" table="filter" ipv="ipv4" chain="INPUT">-p tcp --dport 9 -j ACCEPT</rule>';
  test('firewalld: direct rules read by content, any attribute order, never inside an XML comment; remove takes only the rule on our interfaces, at its priority', () => {
    const xml = [
      '<?xml version="1.0" encoding="utf-8"?>',
      '<direct>',
      `  ${ADMIN}`,
      '  <!-- <rule ipv="ipv4" table="nat" chain="POSTROUTING" priority="0">-o eth9 -j MASQUERADE</rule> -->',
      "  <rule chain='POSTROUTING' priority='3' ipv='ipv4' table='nat'>-o  wlan0   -j MASQUERADE</rule>\r",
      '  <rule ipv="ipv6" table="nat" chain="POSTROUTING" priority="0">-o wlan0 -j MASQUERADE</rule>',
      '</direct>',
    ].join('\r\n');
    assert.deepEqual(directRules(xml), [{ priority: 3, args: '-o wlan0 -j MASQUERADE' }]);
    const f = { mode: 0o644, content: xml };
    assert.deepEqual(firewalldMissing('wlan0,eth9', f), ['eth9'], 'a commented-out rule is no rule');
    assert.deepEqual(hookState('firewalld', 'wlan0', f), { ok: true });
    assert.deepEqual(hookState('firewalld', 'wlan0,eth9', f), { ok: false, why: 'stale' });
    assert.deepEqual(hookState('firewalld', 'eth9', f), { ok: false, why: 'missing' });
    assert.deepEqual(firewalldFound(['wlan0', 'eth9'], f), [{ iface: 'wlan0', priority: 3 }]);
    const sh = firewalldDirectSh([], firewalldFound(['wlan0'], f));
    assert.match(sh, /fm_fw --remove-rule ipv4 nat POSTROUTING 3 -o wlan0 -j MASQUERADE/);
    assert.doesNotMatch(sh, /dport/, 'the admin\'s rule is not named');
    // The same rules as firewalld itself rewrites the file (markers of an older fleetmasq gone): one rule, so apply adds nothing.
    const old = '<?xml version="1.0" encoding="utf-8"?>\n<direct>\n  <!-- BEGIN fleetmasq managed block -->\n  <rule ipv="ipv4" table="nat" chain="POSTROUTING" priority="0">-o wlan0 -j MASQUERADE</rule>\n  <!-- END fleetmasq managed block -->\n</direct>\n';
    const rewritten = `<?xml version="1.0" encoding="utf-8"?>\n<direct>\n  ${ADMIN}\n  <rule priority="0" table="nat" ipv="ipv4" chain="POSTROUTING">-o wlan0 -j MASQUERADE</rule>\n</direct>\n`;
    for (const content of [old, rewritten]) {
      const facts0 = facts({ firewalld: { backend: 'nftables', hook: { mode: 0o644, content } } });
      assert.deepEqual(planApply(facts0, { interface: 'auto', persistence: 'auto' }).ops.filter((o) => o.kind === 'firewalld-direct'), []);
      assert.deepEqual(planRemove(facts0, { interface: 'auto' }).ops.filter((o) => o.kind === 'firewalld-direct'), [{ kind: 'firewalld-direct', add: [], remove: [{ iface: 'wlan0', priority: 0 }] }]);
    }
    assert.match((desiredHook('firewalld', 'wlan0', { mode: 0o644, content: rewritten }) as { error: string }).error, /firewalld's own file.*never by editing it/);
  });

  test('ufw after.init: a CRLF re-save, or a rewrite that lost the markers, is found by content: apply replaces it (never a second block), remove takes it out', () => {
    const good = desiredHook('ufw', 'wlan0', { mode: 0o640, content: UFW_AFTER_INIT }) as { content: string; mode: number };
    const crlf = { mode: good.mode, content: good.content.replace(/\n/g, '\r\n') };
    const again = desiredHook('ufw', 'wlan0', crlf) as { content: string; mode: number };
    assert.equal(again.content.match(/BEGIN fleetmasq managed block/g)?.length, 1, 'one block');
    assert.equal(again.content.match(/in start\|stop\)/g)?.length, 1);
    assert.equal(hookState('ufw', 'wlan0', crlf).ok, false);
    const back = withoutHook('ufw', crlf) as { file?: { content: string }; present: boolean };
    assert.equal(back.present, true);
    assert.equal(back.file!.content, UFW_AFTER_INIT.replace(/\n/g, '\r\n'), 'the CRLF file without the block');
    assert.doesNotMatch(back.file!.content, /fleetmasq/);
    // Markers lost (a rewrite kept only the line): found by its shape.
    const bare = { mode: good.mode, content: good.content.split('\n').filter((l) => !/fleetmasq/.test(l)).join('\n') };
    assert.match(bare.content, /-j MASQUERADE/);
    const re = desiredHook('ufw', 'wlan0', bare) as { content: string };
    assert.equal(re.content.match(/in start\|stop\)/g)?.length, 1, 'replaced, not doubled');
    assert.match(re.content, /BEGIN fleetmasq managed block/);
    const gone = withoutHook('ufw', bare) as { file?: { content: string }; present: boolean };
    assert.equal(gone.present, true);
    assert.doesNotMatch(gone.file!.content, /MASQUERADE/);
    assert.equal(gone.file!.content, UFW_AFTER_INIT);
  });

  test('ufw after.init whose interpreter is not a shell is refused (no shell put into python); shells, env and no #! are fine', () => {
    for (const first of ['#!/usr/bin/python3', '#!/usr/bin/env python3', '#! /usr/bin/perl -w']) {
      const r = desiredHook('ufw', 'wlan0', { mode: 0o750, content: `${first}\nimport sys\n` });
      assert.match((r as { error: string }).error, /not a shell: fleetmasq will not put shell into it/, first);
      assert.equal(hookState('ufw', 'wlan0', { mode: 0o750, content: `${first}\n` }).ok, false);
    }
    const planned = planApply(facts({ ufw: { enabled: true, manageBuiltins: true, forwarding: false, beforeNat: false, hook: { mode: 0o750, content: '#!/usr/bin/python3\nprint(1)\n' } } }), { interface: 'auto', persistence: 'auto' });
    assert.match(planned.error ?? '', /after\.init its interpreter is "#!\/usr\/bin\/python3", not a shell/);
    for (const first of ['#!/bin/sh', '#!/bin/bash -e', '#!/usr/bin/env bash', '#!/bin/busybox sh', 'echo no shebang']) {
      const r = desiredHook('ufw', 'wlan0', { mode: 0o750, content: `${first}\ntrue\n` });
      assert.ok(!('error' in r), first);
    }
  });
});
