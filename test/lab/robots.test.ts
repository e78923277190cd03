/**
 * Issue 26 on real robots, each kind booted once in one lab: a volatile root (apply refuses boot
 * persistence before the reboot that would have lost it), a busybox userland and Debian 13 (apply,
 * reboot, verify, diagnose, remove), a robot rebooted by its own commands, and an nftables-only robot
 * (fleetmasq's own nftables table). Judged by what the network
 * sees (observedSource) before and after each reboot, and by remove leaving the robot as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { LabState } from '../../lab/lab.js';
import { cli } from '../helpers/cli.js';
import { labSsh } from '../../lab/lab.js';
import { bootId, CANDIDATE_ADDR, canRunLab, observedSource, specFile, sshOut, useLab } from '../helpers/lab.js';

/** The lab's inventory with extra vars for some robots (written beside it). */
function inventoryWith(l: LabState, vars: Record<string, Record<string, unknown>>): string {
  const doc = parse(readFileSync(l.paths.inventory, 'utf8'));
  for (const [robot, v] of Object.entries(vars)) Object.assign(doc.all.children.lab.hosts[robot], v);
  const file = join(l.paths.dir, 'inventory-robots-test.yml');
  writeFileSync(file, stringify(doc));
  return file;
}

const VENDOR_REBOOT = `#!/bin/sh
# A vendor's reboot tool: logs why, then a delayed-style shutdown.
echo "$(date +%s) $*" >> /var/log/vendor-reboot.log
exec shutdown -r +0
`;
const VENDOR_BOOT_ID = `#!/bin/sh
read -r b < /proc/sys/kernel/random/boot_id
echo "vendor-$b"
`;

const setup = async (l: LabState) => {
  await sshOut(l, 'vendor', `cat > /usr/local/sbin/vendor-reboot && chmod 755 /usr/local/sbin/vendor-reboot`, VENDOR_REBOOT);
  await sshOut(l, 'vendor', `cat > /usr/local/sbin/vendor-boot-id && chmod 755 /usr/local/sbin/vendor-boot-id`, VENDOR_BOOT_ID);
};
const { lab } = canRunLab ? useLab(specFile('test/fixtures/robots-fleet.yml', 'trob'), setup) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 300_000 };
const addr = (robot: string) => lab().robots.find((r) => r.name === robot)!.address;
const UNIT = '/etc/systemd/system/fleetmasq-masquerade.service';
const exists = async (robot: string, path: string) => (await sshOut(lab(), robot, `test -e ${path} && echo yes || echo no`)).trim() === 'yes';
/** What remove must give back: /etc's systemd units (names and link targets) and rc.local, as they were. */
const etcState = (robot: string) =>
  sshOut(lab(), robot, 'cd /etc/systemd/system && for f in * */*; do printf "%s %s\\n" "$f" "$(readlink "$f")"; done; test -e /etc/rc.local && echo rc.local || true');

test('volatile root: check and apply --check say so, apply refuses boot persistence (nothing changed); the reboot would have lost it', opts, async () => {
  const l = lab();
  assert.match(await sshOut(l, 'vol', 'findmnt -n -o FSTYPE,OPTIONS /'), /^overlay .*upperdir=\/tmp\/nspawn-volatile-/);
  const check = await cli(['check', '-i', l.paths.inventory, '-l', 'vol', '--json']);
  assert.equal(check.code, 2, check.stdout + check.stderr);
  const h = check.json.hosts.vol;
  assert.equal(h.compliant, false);
  assert.equal(h.details.root, 'volatile');
  assert.match(h.reasons.map((x: { text: string }) => x.text).join('\n'), /systemd-nspawn's volatile overlay .*lost at boot: fleetmasq's boot persistence would not survive a reboot; ways out: disable the overlay.*persistent partition.*masquerade_persistence: external/);
  for (const extra of [['--check'], []]) {
    const r = await cli(['apply', '-i', l.paths.inventory, '-l', 'vol', '--json', ...extra]);
    assert.notEqual(r.code, 0, `apply ${extra.join(' ')}: ${r.stdout}`);
    assert.equal(r.json.hosts.vol.error.kind, 'config');
    assert.match(r.json.hosts.vol.error.message, /volatile overlay.*would not survive a reboot; ways out/);
    assert.notEqual(r.json.hosts.vol.compliant, true);
  }
  // Nothing changed: no unit, no rule, what the network sees is the robot's own local address.
  assert.equal(await exists('vol', UNIT), false);
  assert.equal(await observedSource(l, 'vol'), CANDIDATE_ADDR);

  // The way out the robot has: persistence external (the image puts the rule back). Live now...
  const inv = inventoryWith(l, { vol: { masquerade_persistence: 'external' } });
  const ext = await cli(['apply', '-i', inv, '-l', 'vol']);
  assert.equal(ext.code, 0, ext.stdout + ext.stderr);
  assert.equal(await observedSource(l, 'vol'), addr('vol'));
  // ...and, the premise: every change to /etc is gone after a reboot (so is the live rule).
  await sshOut(l, 'vol', 'echo kept > /etc/fleetmasq-lab-probe');
  const before = await bootId(l, 'vol');
  const rb = await cli(['reboot', '-i', inv, '-l', 'vol', '--json']);
  assert.equal(rb.code, 2, rb.stdout + rb.stderr);
  assert.notEqual(rb.json.hosts.vol.details.bootId, before);
  assert.match(rb.json.hosts.vol.reasons.map((x: { text: string }) => x.text).join('\n'), /did not survive the reboot/);
  assert.equal(await exists('vol', '/etc/fleetmasq-lab-probe'), false);
  assert.equal(await observedSource(l, 'vol'), CANDIDATE_ADDR);
});

const KIND = { bb: 'busybox userland', d13: 'Debian 13', d11: 'Debian 11' } as const;
for (const robot of ['bb', 'd13', 'd11'] as const) {
  test(`${KIND[robot]}: apply, reboot, verify${robot === 'bb' ? ', diagnose' : ''} and remove, judged by the network`, opts, async () => {
    const l = lab();
    if (robot === 'bb') {
      // busybox's applets are what fleetmasq's PATH finds first.
      const found = await sshOut(l, robot, 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; for c in sh stat mktemp sync sha256sum ip logger base64 awk; do readlink -f "$(command -v $c)"; done');
      assert.deepEqual([...new Set(found.trim().split('\n'))], ['/usr/bin/busybox'], found);
    } else if (robot === 'd13') {
      assert.match(await sshOut(l, robot, 'cat /etc/debian_version'), /^13\./);
      assert.match(await sshOut(l, robot, 'iptables -V'), /v1\.8\.11 \(nf_tables\)/);
    } else {
      assert.match(await sshOut(l, robot, 'cat /etc/debian_version'), /^11\./);
      assert.match(await sshOut(l, robot, 'iptables -V'), /v1\.8\.7 \(nf_tables\)/);
    }
    const pristine = await etcState(robot);
    assert.equal(await observedSource(l, robot), CANDIDATE_ADDR);
    const ap = await cli(['apply', '-i', l.paths.inventory, '-l', robot, '--json']);
    assert.equal(ap.code, 0, ap.stdout + ap.stderr);
    // A lab robot's root is an overlay whose upper layer is on the lab machine's disk, out of the robot's
    // sight: not judged (not refused), unlike the volatile robot's.
    assert.equal(ap.json.hosts[robot].details.root, 'unknown');
    assert.equal(await observedSource(l, robot), addr(robot));
    const before = await bootId(l, robot);
    const rb = await cli(['reboot', '-i', l.paths.inventory, '-l', robot, '--json']);
    assert.equal(rb.code, 0, rb.stdout + rb.stderr);
    const h = rb.json.hosts[robot];
    assert.equal(h.compliant, true, h.reasons?.map((x: { text: string }) => x.text).join('; '));
    assert.equal(h.details.firedThisBoot, true);
    assert.notEqual(h.details.bootId, before);
    assert.equal(h.details.bootId, await bootId(l, robot));
    assert.equal(await observedSource(l, robot), addr(robot), 'masquerading back after the reboot');
    const verify = await cli(['verify', '-i', l.paths.inventory, '-l', robot]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    if (robot === 'bb') {
      const dg = await cli(['diagnose', '-i', l.paths.inventory, '-l', robot, '--attempts', '6', '--json']);
      const d = dg.json.hosts[robot].details.diagnosis;
      assert.equal(d.verdict, 'protected', JSON.stringify(d));
      assert.equal(d.leak.result, 'masqueraded');
    }
    const rm = await cli(['remove', '-i', l.paths.inventory, '-l', robot]);
    assert.equal(rm.code, 0, rm.stdout + rm.stderr);
    assert.equal(await observedSource(l, robot), CANDIDATE_ADDR);
    assert.equal(await etcState(robot), pristine, 'remove leaves /etc as it was');
  });
}

test("a robot rebooted by its own commands (masquerade_reboot_command, masquerade_boot_id_command; a playbook's reboot_command, boot_time_command)", opts, async () => {
  const l = lab();
  const inv = inventoryWith(l, {
    vendor: { masquerade_reboot_command: '/usr/local/sbin/vendor-reboot --reason=fleetmasq,rollout', masquerade_boot_id_command: '/usr/local/sbin/vendor-boot-id' },
  });
  const ap = await cli(['apply', '-i', inv, '-l', 'vendor']);
  assert.equal(ap.code, 0, ap.stdout + ap.stderr);
  const kernelBefore = await bootId(l, 'vendor');
  const rb = await cli(['reboot', '-i', inv, '-l', 'vendor', '--json']);
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  const h = rb.json.hosts.vendor;
  assert.equal(h.details.previousBootId, `vendor-${kernelBefore}`, 'boots told apart by the vendor command');
  assert.equal(h.compliant, true, h.reasons?.map((x: { text: string }) => x.text).join('; '));
  assert.equal(h.details.firedThisBoot, true);
  assert.notEqual(await bootId(l, 'vendor'), kernelBefore);
  assert.match(await sshOut(l, 'vendor', 'cat /var/log/vendor-reboot.log'), /^\d+ --reason=fleetmasq,rollout$/m);
  assert.equal(await observedSource(l, 'vendor'), addr('vendor'));

  // A playbook with Ansible's names: a plain `shutdown -r +0`.
  const pb = join(l.paths.dir, 'vendor-play.yml');
  writeFileSync(pb, '- hosts: vendor\n  tasks:\n    - reboot: { reboot_command: "shutdown -r +0", boot_time_command: "/usr/local/sbin/vendor-boot-id" }\n');
  const k2 = await bootId(l, 'vendor');
  const play = await cli(['play', pb, '-i', l.paths.inventory, '--json']);
  assert.equal(play.code, 0, play.stdout + play.stderr);
  assert.equal(play.json.hosts.vendor.details.previousBootId, `vendor-${k2}`);
  assert.notEqual(await bootId(l, 'vendor'), k2);
  assert.equal((await sshOut(l, 'vendor', 'wc -l < /var/log/vendor-reboot.log')).trim(), '1', 'the playbook used its own reboot_command');
  assert.equal(await observedSource(l, 'vendor'), addr('vendor'));
});

test("an nftables-only robot (no iptables binary, nftables.service flushing the ruleset): fleetmasq's own nftables table through apply, the manager's restart, reboot, verify, diagnose and remove", opts, async () => {
  const l = lab();
  assert.equal((await sshOut(l, 'nfto', 'command -v iptables ip6tables xtables-nft-multi || echo none')).trim(), 'none');
  assert.match(await sshOut(l, 'nfto', 'nft --version'), /^nftables v1\./);
  const table = () => labSsh(l, 'nfto', 'nft list table ip fleetmasq', { nothrow: true });
  const pristine = await etcState('nfto');
  assert.equal(await observedSource(l, 'nfto'), CANDIDATE_ADDR);
  const check0 = await cli(['check', '-i', l.paths.inventory, '-l', 'nfto', '--json']);
  assert.equal(check0.code, 2);
  assert.equal(check0.json.hosts.nfto.details.backend, 'nftables');

  const ap = await cli(['apply', '-i', l.paths.inventory, '-l', 'nfto', '--json']);
  assert.equal(ap.code, 0, ap.stdout + ap.stderr);
  assert.equal(ap.json.hosts.nfto.details.backend, 'nftables');
  assert.match((await table()).stdout, /oifname "wlan0" masquerade/);
  assert.equal(await observedSource(l, 'nfto'), addr('nfto'));
  // nftables.service's conf flushes the whole ruleset: fleetmasq's drop-in makes the table again.
  await sshOut(l, 'nfto', 'systemctl restart nftables');
  assert.equal(await observedSource(l, 'nfto'), addr('nfto'), 'back after nftables restarted');

  const before = await bootId(l, 'nfto');
  const rb = await cli(['reboot', '-i', l.paths.inventory, '-l', 'nfto', '--json']);
  assert.equal(rb.code, 0, rb.stdout + rb.stderr);
  assert.equal(rb.json.hosts.nfto.compliant, true, rb.json.hosts.nfto.reasons?.map((x: { text: string }) => x.text).join('; '));
  assert.equal(rb.json.hosts.nfto.details.firedThisBoot, true);
  assert.notEqual(rb.json.hosts.nfto.details.bootId, before);
  assert.equal(await observedSource(l, 'nfto'), addr('nfto'), 'masquerading back after the reboot');
  const verify = await cli(['verify', '-i', l.paths.inventory, '-l', 'nfto']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  // --ab switches fleetmasq's nftables table: off in its first group (the network sees no masquerading
  // while it runs), and back exactly as it was found at the end.
  const tableBefore = (await table()).stdout;
  const abRun = cli(['diagnose', '-i', l.paths.inventory, '-l', 'nfto', '--ab', '--ab-groups', '2', '--ab-per', '3', '--json']);
  let sawOff = false;
  for (let i = 0; i < 40 && !sawOff; i++) {
    sawOff = (await table()).exitCode !== 0;
    if (!sawOff) await new Promise((r) => setTimeout(r, 250));
  }
  const abr = await abRun;
  assert.equal(abr.json.hosts.nfto.error, null, JSON.stringify(abr.json.hosts.nfto.error));
  assert.equal(abr.json.hosts.nfto.details.diagnosis.ab.restored, true, JSON.stringify(abr.json.hosts.nfto.details.diagnosis.ab));
  assert.deepEqual(abr.json.hosts.nfto.details.diagnosis.ab.groups.map((g: { masquerade: boolean }) => g.masquerade), [false, true]);
  assert.ok(sawOff, 'the table was off during the experiment');
  assert.equal((await table()).stdout, tableBefore, 'the table back exactly as it was');
  assert.notEqual(await observedSource(l, 'nfto'), CANDIDATE_ADDR, 'masquerading in effect after --ab');
  const dg = await cli(['diagnose', '-i', l.paths.inventory, '-l', 'nfto', '--attempts', '6', '--json']);
  const d = dg.json.hosts.nfto.details.diagnosis;
  assert.equal(d.verdict, 'protected', JSON.stringify(d));
  assert.equal(d.leak.result, 'masqueraded');

  const rm = await cli(['remove', '-i', l.paths.inventory, '-l', 'nfto']);
  assert.equal(rm.code, 0, rm.stdout + rm.stderr);
  assert.notEqual((await table()).exitCode, 0, 'no fleetmasq table left');
  assert.equal(await observedSource(l, 'nfto'), CANDIDATE_ADDR);
  assert.equal(await etcState('nfto'), pristine, 'remove leaves /etc as it was');
  await sshOut(l, 'nfto', 'systemctl restart nftables');
  assert.equal(await observedSource(l, 'nfto'), CANDIDATE_ADDR, 'and nothing of it comes back');
});
