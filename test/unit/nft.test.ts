/**
 * The nftables backend: which backend a robot gets, what apply/remove plan, and — the fast tier — the
 * real facts and change scripts under a real `sh` on an nftables-only "robot" (no iptables on PATH, a
 * stub `nft` that keeps fleetmasq's table in a file): apply, nothing left to do, a reboot (the unit's
 * or rc.local's boot hook run as systemd or rc-local would), remove.
 */
import { newBootId, placeInSandbox, sandboxRoot, SYSTEMCTL } from '../helpers/stubs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FACTS_SCRIPT, parseFacts, type Facts } from '../../src/facts/facts.js';
import { checkCompliance, chooseBackend, reasonText, type MasqSettings } from '../../src/modules/compliance.js';
import { planApply, planRemove, type Plan } from '../../src/modules/plan.js';
import { renderNftTableDropIn } from '../../src/remote/files/hooks.js';
import { nftRulesAsIptables } from '../../src/modules/rule.js';
import { nftBatch } from '../../src/remote/rule.js';
import { renderUnit } from '../../src/remote/files/unit.js';
import { renderScript } from '../../src/remote/script.js';
import { run } from '../../src/util/proc.js';
import { factsWith } from '../helpers/facts.js';

const NFT_ONLY: Partial<Facts> = { iptablesMissing: true, rulesError: 'sh: 1: iptables: not found', nft: { present: true, table: false, rules: [] } };

test('backend: auto is nft only where iptables is absent and nft is there; nft wanted without nft is an error', () => {
  assert.equal(chooseBackend(factsWith(), 'auto'), 'iptables');
  assert.equal(chooseBackend(factsWith(NFT_ONLY), 'auto'), 'nft');
  assert.equal(chooseBackend(factsWith({ nft: { present: true, table: false, rules: [] } }), 'auto'), 'iptables');
  assert.equal(chooseBackend(factsWith({ nft: { present: true, table: false, rules: [] } }), 'nft'), 'nft');
  assert.deepEqual(chooseBackend(factsWith(), 'nft'), { error: 'masquerade_backend is nft, but nft (nftables) is not installed on this robot' });
  // Without nft either: the iptables error says what would help.
  const none = planApply(factsWith({ iptablesMissing: true, rulesError: 'iptables: not found' }), { interface: 'auto', persistence: 'auto' });
  assert.match(none.error!, /^iptables does not work on this robot: iptables: not found$/);
  const withNft = planApply(factsWith({ ...NFT_ONLY, nft: { present: true, table: false, rules: [] }, iptablesMissing: false }), { interface: 'auto', persistence: 'auto' });
  assert.match(withNft.error!, /masquerade_backend: nft puts the rule in an nftables table of its own/);
});

test("nft: fleetmasq's table is one transaction that leaves exactly the spec's rules; wildcards are nftables'", () => {
  assert.equal(
    nftBatch('wlan0,usb+'),
    'add table ip fleetmasq ; delete table ip fleetmasq ; add table ip fleetmasq ; add chain ip fleetmasq postrouting { type nat hook postrouting priority 100 ; policy accept ; } ; add rule ip fleetmasq postrouting oifname "wlan0" masquerade ; add rule ip fleetmasq postrouting oifname "usb*" masquerade',
  );
  assert.doesNotMatch(nftBatch('a.b-c_d'), /['$%\\]/, 'nothing a shell word or systemd would read');
  assert.deepEqual(nftRulesAsIptables(['table ip fleetmasq {', '\t\toifname "wlan0" masquerade', '\t\toifname "usb*" masquerade', '\t\toifname "bad;x" masquerade', '\t\tiifname "x" accept']), [
    '-A POSTROUTING -o wlan0 -j MASQUERADE',
    '-A POSTROUTING -o usb+ -j MASQUERADE',
  ]);
  assert.match(renderUnit('wlan0', 'nft'), /^ExecStart=nft 'add table ip fleetmasq ; .* oifname "wlan0" masquerade'$/m);
  assert.match(renderNftTableDropIn('wlan0'), /^ExecStartPost=-nft '.*oifname "wlan0" masquerade'$/m);
});

test('nft: apply plans the unit and the table; with nftables.service its drop-in; check reads the table; remove deletes it', () => {
  const s: MasqSettings = { interface: 'auto', persistence: 'auto' };
  const p = planApply(factsWith(NFT_ONLY), s);
  assert.equal(p.error, undefined);
  assert.deepEqual(p.ops.map((o) => o.kind), ['unit', 'nft-table']);
  assert.match(p.changes.join('\n'), /make fleetmasq's nftables table live: table ip fleetmasq, oifname "wlan0" masquerade/);
  // nftables.service flushes the ruleset: its hook, and no other manager's.
  const mgr = factsWith({ ...NFT_ONLY, managers: { others: [], nftables: { flushes: true } } as Facts['managers'] });
  assert.deepEqual(planApply(mgr, s).ops.map((o) => (o.kind === 'hook' ? `hook-${o.manager}` : o.kind)), ['hook-nftables', 'unit', 'nft-table']);
  const done = factsWith({ ...NFT_ONLY, nft: { present: true, table: true, rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE'] }, unit: renderUnit('wlan0', 'nft'), unitEnabled: 'enabled' });
  const c = checkCompliance(done, s);
  assert.equal(c.compliant, true, c.reasons.map(reasonText).join('; '));
  assert.equal(c.ruleBackend, 'nft');
  assert.deepEqual(planApply(done, s).ops, []);
  // An iptables-backend unit on an nft robot is not the right one; a duplicate in the table is made again whole.
  assert.deepEqual(checkCompliance({ ...done, unit: renderUnit('wlan0') }, s).reasons.map((r) => r.code), ['unit-modified']);
  const dup = { ...done, nft: { present: true, table: true, rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE', '-A POSTROUTING -o wlan0 -j MASQUERADE'] } };
  assert.deepEqual(checkCompliance(dup, s).reasons.map((r) => r.code), ['rule-duplicated']);
  assert.deepEqual(planApply(dup, s).ops.map((o) => o.kind), ['nft-table']);
  // Missing: not compliant.
  assert.deepEqual(checkCompliance({ ...done, nft: { present: true, table: false, rules: [] } }, s).reasons.map((r) => r.code), ['rule-missing']);
  assert.deepEqual(planRemove(done, s).ops.map((o) => o.kind), ['unit-remove', 'nft-table-remove']);
});

// ---- fast tier ----

const NFT = `#!/bin/sh
st="$SANDBOX/nft"
case "$1" in
  list) [ -e "$st" ] || exit 1
        printf 'table ip fleetmasq {\\n\\tchain postrouting {\\n\\t\\ttype nat hook postrouting priority srcnat; policy accept;\\n'; cat "$st"; printf '\\t}\\n}\\n';;
  delete) [ -e "$st" ] || exit 1; rm -f "$st";;
  *) case "$1" in *"delete table ip fleetmasq"*) ;; *) exit 2;; esac
     echo "$1" | tr ';' '\\n' | sed -n 's/.*oifname "\\([^"]*\\)" masquerade.*/\\t\\toifname "\\1" masquerade/p' > "$st.t" && mv "$st.t" "$st";;
esac
`;
const IP = `#!/bin/sh
case "$*" in *route*) echo 'default via 10.0.0.1 dev wlan0 proto static metric 100 ';; *link*) printf '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\\n2: wlan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\\n';; esac
`;

for (const systemd of [true, false]) {
  test(`fast tier, nftables-only robot${systemd ? '' : ' without systemd (rc.local)'}: apply, nothing left, a reboot puts the table back, remove undoes it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fmnft-'));
    const root = sandboxRoot(dir, systemd);
    for (const [name, body] of Object.entries({ nft: NFT, ip: IP, systemctl: SYSTEMCTL, sync: '#!/bin/sh\n' })) writeFileSync(join(dir, 'bin', name), body, { mode: 0o755 });
    const place = (script: string) => placeInSandbox(script, dir, root);
    const sh = async (script: string) => {
      const r = await run('sh', ['-c', place(script)], { nothrow: true, env: { ...process.env, SANDBOX: dir, PATH: `${dir}/bin:/usr/bin:/bin` } });
      return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    };
    const facts = async () => parseFacts((await sh(FACTS_SCRIPT)).stdout);
    const change = async (plan: Plan) => {
      assert.equal(plan.error, undefined);
      const r = await sh(renderScript(plan.steps, FACTS_SCRIPT));
      assert.equal(r.code, 0, r.stderr);
      return parseFacts(r.stdout.slice(r.stdout.indexOf('@@FM done')));
    };
    const s: MasqSettings = { interface: 'auto', persistence: 'auto' };
    const before = await facts();
    assert.equal(before.iptablesMissing, true, 'no iptables on this PATH');
    assert.deepEqual(before.nft, { present: true, table: false, rules: [] });
    const after = await change(planApply(before, s));
    assert.equal(readFileSync(join(dir, 'nft'), 'utf8'), '\t\toifname "wlan0" masquerade\n');
    const c = checkCompliance(after, s);
    assert.equal(c.compliant, true, c.reasons.map(reasonText).join('; '));
    assert.equal(c.method, systemd ? 'systemd' : 'rc.local');
    assert.deepEqual(planApply(after, s).ops, [], 'a second apply changes nothing');

    // Reboot: the table and the marker are gone, a new boot id; the boot hook runs.
    rmSync(join(dir, 'nft'), { force: true });
    rmSync(join(root, 'run/fleetmasq'), { recursive: true, force: true });
    newBootId(root);
    if (systemd) {
      // As systemd runs the unit: each ExecStart line, its words as the shell reads them here ($$ meaning $).
      for (const m of readFileSync(join(root, 'etc/systemd/system/fleetmasq-masquerade.service'), 'utf8').matchAll(/^ExecStart=(.*)$/gm)) {
        const r = await sh(m[1]!.replaceAll('$$', '$'));
        assert.equal(r.code, 0, r.stderr);
      }
    } else {
      const rc = join(root, 'etc/rc.local');
      assert.ok(existsSync(rc) && statSync(rc).mode & 0o100);
      const r = await sh(readFileSync(rc, 'utf8'));
      assert.equal(r.code, 0, r.stderr);
    }
    const booted = await facts();
    const cb = checkCompliance(booted, s);
    assert.equal(cb.compliant, true, cb.reasons.map(reasonText).join('; '));
    assert.equal(cb.firedThisBoot, true);

    const removed = await change(planRemove(booted, s));
    assert.equal(removed.nft?.table, false);
    assert.equal(existsSync(join(dir, 'nft')), false);
    assert.equal(removed.unit, undefined);
    assert.equal(existsSync(join(root, 'etc/rc.local')), false);
    assert.deepEqual(planRemove(removed, s).ops, []);
    rmSync(dir, { recursive: true });
  });
}
