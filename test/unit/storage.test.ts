/**
 * Volatile and read-only roots: the storage facts (the real section under a real `sh`, with /proc/mounts
 * and /proc/cmdline moved to fixtures), their judgement, and what check and apply make of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FACTS_SCRIPT, parseFacts, type Facts } from '../../src/facts/facts.js';
import { parseStorage, rootState, STORAGE_SH, type StorageFacts } from '../../src/facts/storage.js';
import { checkCompliance, reasonText } from '../../src/modules/compliance.js';
import { planApply, planPersist, planRemove, planRule } from '../../src/modules/plan.js';
import { renderUnit } from '../../src/remote/files/unit.js';
import { sections } from '../../src/remote/script.js';
import { run } from '../../src/util/proc.js';
import { BOOT, factsWith } from '../helpers/facts.js';

const UNIT = '/etc/systemd/system/fleetmasq-masquerade.service';

/** The storage section run by a real sh over fixture files (and, for "seen" upper layers, real directories). */
async function storageOf(mounts: string, cmdline: string, dirs: string[] = []): Promise<{ s: StorageFacts; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'fmstore-'));
  writeFileSync(join(dir, 'mounts'), mounts.replaceAll('@D', dir));
  writeFileSync(join(dir, 'cmdline'), `${cmdline}\n`);
  for (const d of dirs) mkdirSync(join(dir, d), { recursive: true });
  const sh = STORAGE_SH.replaceAll('/proc/mounts', join(dir, 'mounts')).replaceAll('/proc/cmdline', join(dir, 'cmdline'));
  const r = await run('sh', ['-c', `printf '@@FM storage\\n'\n${sh}\nprintf '\\n@@FM end\\n'`], { nothrow: true });
  assert.equal(r.exitCode, 0, r.stderr);
  return { s: parseStorage(sections(r.stdout).get('storage') ?? []), dir };
}

const PLAIN = 'sysfs /sys sysfs rw 0 0\n/dev/mmcblk0p2 / ext4 rw,noatime 0 0\ntmpfs /run tmpfs rw,nosuid 0 0\ntmpfs /tmp tmpfs rw 0 0\n';

test('storage: a plain ext4 root is persistent; the section runs under sh and prints only what it needs', async () => {
  const { s, dir } = await storageOf(PLAIN, 'console=ttyS0 root=/dev/mmcblk0p2 rw');
  rmSync(dir, { recursive: true });
  assert.deepEqual(s.mounts, [{ mp: '/', fs: 'ext4', ro: false }]);
  assert.deepEqual(s.uppers, []);
  assert.equal(rootState(s, UNIT).kind, 'persistent');
});

test("storage: Raspberry Pi OS's overlay (boot=overlay) and overlayroot=tmpfs are volatile; overlayroot=disabled is not", async () => {
  const rpi = await storageOf('overlay / overlay rw,lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work 0 0\n', 'console=tty1 boot=overlay rootwait');
  assert.equal(rpi.s.rpiOverlay, true);
  const r = rootState(rpi.s, UNIT);
  assert.equal(r.kind, 'volatile');
  assert.equal(r.how, 'rpi-overlay');
  const orTmpfs = await storageOf(
    'overlayroot / overlay rw,lowerdir=/media/root-ro,upperdir=/media/root-rw/overlay,workdir=/media/root-rw/overlay-workdir/_ 0 0\n',
    'root=/dev/sda1 overlayroot=tmpfs:swap=1,recurse=0 quiet',
  );
  assert.equal(orTmpfs.s.overlayroot, 'tmpfs:swap=1,recurse=0');
  assert.equal(rootState(orTmpfs.s, UNIT).how, 'overlayroot');
  const disabled = await storageOf(PLAIN, 'root=/dev/sda1 overlayroot=disabled');
  assert.equal(rootState(disabled.s, UNIT).kind, 'persistent');
  for (const x of [rpi, orTmpfs, disabled]) rmSync(x.dir, { recursive: true });
});

test('storage: an overlay root is judged by the mount that holds its upper layer, when the robot sees that layer', async () => {
  // overlayroot's upper in RAM, seen from the robot (/media/root-rw is a tmpfs).
  const ram = await storageOf(
    'overlayroot / overlay rw,lowerdir=@D/media/root-ro,upperdir=@D/media/root-rw/overlay,workdir=@D/media/root-rw/w 0 0\ntmpfs @D/media/root-rw tmpfs rw,relatime 0 0\n/dev/sda1 @D/media/root-ro ext4 ro 0 0\n',
    'root=/dev/sda1',
    ['media/root-rw/overlay'],
  );
  const r = rootState(ram.s, UNIT);
  assert.equal(r.kind, 'volatile');
  assert.equal(r.how, 'overlay-tmpfs');
  assert.equal(r.upper?.fstype, 'tmpfs');
  assert.match(reasonText({ code: 'root-volatile', state: r }), /upper layer .*media\/root-rw\/overlay is on a tmpfs/);
  // The same with the upper on a disk partition: persistent.
  const disk = await storageOf(
    'overlayroot / overlay rw,lowerdir=@D/media/root-ro,upperdir=@D/media/root-rw/overlay,workdir=@D/media/root-rw/w 0 0\n/dev/sda3 @D/media/root-rw ext4 rw 0 0\n',
    'root=/dev/sda1 overlayroot=device:dev=/dev/sda3',
    ['media/root-rw/overlay'],
  );
  assert.equal(rootState(disk.s, UNIT).kind, 'persistent');
  // An upper layer the robot does not see (a container's root, mounted in another namespace): not judged —
  // even when the same path inside the robot falls on one of its own tmpfs mounts.
  const unseen = await storageOf('overlay / overlay rw,lowerdir=/base,upperdir=/tmp/lab/upper,workdir=/tmp/lab/work 0 0\ntmpfs /tmp tmpfs rw 0 0\n', '');
  assert.equal(rootState(unseen.s, UNIT).kind, 'unknown');
  // systemd-nspawn --volatile=overlay: its tmpfs upper, named by nspawn, outside the robot.
  const nspawn = await storageOf('overlay / overlay rw,relatime,lowerdir=/x/r,upperdir=/tmp/nspawn-volatile-uQkSVj/upper,workdir=/tmp/nspawn-volatile-uQkSVj/work,uuid=on 0 0\ntmpfs /tmp tmpfs rw 0 0\n', '');
  assert.equal(rootState(nspawn.s, UNIT).how, 'nspawn-volatile');
  for (const x of [ram, disk, unseen, nspawn]) rmSync(x.dir, { recursive: true });
});

test('storage: a read-only root, a tmpfs /etc, and a mount point written with escapes', async () => {
  const ro = await storageOf('/dev/root / ext4 ro,relatime 0 0\n', '');
  assert.equal(rootState(ro.s, UNIT).kind, 'read-only');
  const etc = await storageOf('/dev/root / ext4 ro,relatime 0 0\ntmpfs /etc tmpfs rw 0 0\n/dev/sda4 /etc/systemd/system ext4 rw 0 0\n', '');
  assert.equal(rootState(etc.s, '/etc/rc.local').kind, 'volatile');
  assert.equal(rootState(etc.s, UNIT).kind, 'persistent');
  const esc = await storageOf('/dev/root / ext4 rw 0 0\n/dev/sdb1 /etc/my\\040dir ext4 ro 0 0\n', '');
  assert.equal(esc.s.mounts[1]!.mp, '/etc/my dir');
  assert.equal(rootState(esc.s, '/etc/my dir/x').kind, 'read-only');
  for (const x of [ro, etc, esc]) rmSync(x.dir, { recursive: true });
});

/** A robot on systemd-nspawn's volatile overlay. */
const facts = (over: Partial<Facts> = {}): Facts =>
  factsWith({ storage: { mounts: [{ mp: '/', fs: 'overlay', ro: false, upper: '/tmp/nspawn-volatile-abcDEF/upper' }], uppers: [] }, ...over });

test('volatile root: apply (and apply --check) refuses boot persistence with a typed reason and the ways out; nothing planned', () => {
  for (const persistence of ['auto', 'systemd', 'rc.local'] as const) {
    const p = planApply(facts(), { interface: 'auto', persistence });
    assert.equal(p.refusal?.code, 'root-volatile', persistence);
    assert.deepEqual(p.ops, []);
    assert.match(p.error!, /volatile overlay.*lost at boot.*would not survive a reboot; ways out: disable the overlay.*persistent partition.*masquerade_persistence: external/);
    assert.equal(planPersist(facts(), { interface: 'auto', persistence }).refusal?.code, 'root-volatile');
  }
  // A read-only root: refused too, in its own words.
  const ro = planApply(facts({ storage: { mounts: [{ mp: '/', fs: 'ext4', ro: true }], uppers: [] } }), { interface: 'auto', persistence: 'auto' });
  assert.equal(ro.refusal?.code, 'root-read-only');
  assert.match(ro.error!, /read-only file system.*cannot be installed; ways out/);
  // external: the live rule only, as before; the live rule alone (masquerade) and remove are not refused.
  const ext = planApply(facts(), { interface: 'auto', persistence: 'external' });
  assert.equal(ext.error, undefined);
  assert.deepEqual(ext.ops.map((o) => o.kind), ['rule']);
  assert.equal(planRule(facts(), { interface: 'auto' }).error, undefined);
  assert.equal(planRemove(facts({ unit: renderUnit('wlan0'), unitEnabled: 'enabled' }), { interface: 'auto' }).error, undefined);
});

test('volatile root: check is never compliant, even with the rule live and the unit in place (it is gone after the boot)', () => {
  const f = facts({ rules: ['-A POSTROUTING -o wlan0 -j MASQUERADE'], unit: renderUnit('wlan0'), unitEnabled: 'enabled', marker: { bootId: BOOT, method: 'systemd', iface: 'wlan0' } });
  const c = checkCompliance(f, { interface: 'auto', persistence: 'auto' });
  assert.equal(c.compliant, false);
  assert.equal(c.persistenceInstalled, false);
  assert.equal(c.root?.kind, 'volatile');
  assert.deepEqual(c.reasons.map((r) => r.code), ['root-volatile']);
  // The same robot on a persistent root is compliant: the reason is the root, nothing else.
  assert.equal(checkCompliance({ ...f, storage: { mounts: [{ mp: '/', fs: 'ext4', ro: false }], uppers: [] } }, { interface: 'auto', persistence: 'auto' }).compliant, true);
  // external: the operator's own boot path; only the live rule is judged.
  assert.equal(checkCompliance(f, { interface: 'auto', persistence: 'external' }).compliant, true);
});

test('the whole facts script carries the storage section (read on this machine under a real sh)', async () => {
  const r = await run('sh', ['-c', FACTS_SCRIPT], { nothrow: true });
  const f = parseFacts(r.stdout);
  assert.ok(f.storage && f.storage.mounts.some((m) => m.mp === '/'), JSON.stringify(f.storage));
});
