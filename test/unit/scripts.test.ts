/**
 * The fast tier: the real facts script and the real change scripts run under a real `sh`, as a normal
 * user, in a sandbox: robot paths moved under a temp dir, and stub iptables / ip / systemctl that keep
 * their state in files. Each case applies, re-plans (nothing left to do), "reboots" (live rules and the
 * marker gone, a new boot id, the boot hook run as systemd or rc-local would) and removes — judged by
 * the facts the real facts script reads back. The lab proves the same on real robots.
 */
import { newBootId, placeInSandbox, sandboxRoot, SYSTEMCTL } from '../helpers/stubs.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FACTS_SCRIPT, parseFacts, type Facts } from '../../src/facts/facts.js';
import { checkCompliance, type MasqSettings } from '../../src/modules/compliance.js';
import { planApply, planRemove, type Plan } from '../../src/modules/plan.js';
import { STOCK_RC_LOCAL } from '../../lab/robot-files.js';
import { lockInfo, lockMessage, lockSh, renderScript, shQuote, unlockSh, type LockSpec } from '../../src/remote/script.js';
import { writeFile } from '../../src/remote/ops.js';
import { run } from '../../src/util/proc.js';
import { abRestoreSh } from '../../src/remote/diagnose.js';
import { chooseInterface } from '../../src/modules/rule.js';

const IPTABLES = `#!/bin/sh
st="$SANDBOX/rules"; touch "$st"
[ "$1" = -V ] && { echo "iptables v1.8.9 (nf_tables)"; exit 0; }
while [ $# -gt 0 ]; do case "$1" in -w) shift; case "$1" in [0-9]*) shift;; esac;; -t) shift 2;; *) break;; esac; done
op=$1; shift; rule="$*"
case $op in
  -S) echo "-P POSTROUTING ACCEPT"; sed 's/^/-A /' "$st";;
  -C) grep -qxF -- "$rule" "$st";;
  -A) echo "$rule" >> "$st";;
  -D) grep -qxF -- "$rule" "$st" || exit 1
      awk -v r="$rule" '$0 == r && !d { d = 1; next } { print }' "$st" > "$st.t" && mv "$st.t" "$st";;
esac
`;
const IP = `#!/bin/sh
case "$*" in *route*) cat "$SANDBOX/routes";; *link*) cat "$SANDBOX/links";; esac
`;

interface Sandbox {
  dir: string;
  root: string;
  /** Runs a robot script (facts, changes, a boot hook) in the sandbox. */
  sh: (script: string) => Promise<{ code: number | null; stdout: string; stderr: string }>;
  facts: () => Promise<Facts>;
  reboot: () => Promise<void>;
}

async function sandbox(opts: { systemd: boolean; rcLocal?: string; rules?: string[]; persisted?: string[] }): Promise<Sandbox> {
  const dir = mkdtempSync(join(tmpdir(), 'fmfast-'));
  const root = sandboxRoot(dir, opts.systemd);
  for (const [name, body] of Object.entries({ iptables: IPTABLES, ip: IP, systemctl: SYSTEMCTL, sync: '#!/bin/sh\necho "sync $*" >> "$SANDBOX/sync.log"\n' })) writeFileSync(join(dir, 'bin', name), body, { mode: 0o755 });
  writeFileSync(join(dir, 'routes'), 'default via 10.0.0.1 dev wlan0 proto static metric 100 \n');
  writeFileSync(join(dir, 'links'), '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n2: wlan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n3: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n');
  writeFileSync(join(dir, 'rules'), (opts.rules ?? []).map((r) => `${r}\n`).join(''));
  if (opts.rcLocal !== undefined) writeFileSync(join(root, 'etc/rc.local'), opts.rcLocal, { mode: 0o755 });
  // Robot paths moved into the sandbox; the stubs first on the PATH.
  const place = (script: string) => placeInSandbox(script, dir, root);
  const sh = async (script: string) => {
    const r = await run('sh', ['-c', place(script)], { nothrow: true, env: { ...process.env, SANDBOX: dir, PATH: `${dir}/bin:/usr/bin:/bin` } });
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
  const facts = async () => {
    const r = await sh(FACTS_SCRIPT);
    assert.equal(r.code, 0, r.stderr);
    return parseFacts(r.stdout);
  };
  const reboot = async () => {
    // Live rules are gone; the operator's own persisted rules come back (their own boot scripts).
    writeFileSync(join(dir, 'rules'), (opts.persisted ?? []).map((r) => `${r}\n`).join(''));
    newBootId(root);
    rmSync(join(root, 'run/fleetmasq'), { recursive: true, force: true });
    const unitFile = join(root, 'etc/systemd/system/fleetmasq-masquerade.service');
    const wanted = join(root, 'etc/systemd/system/multi-user.target.wants/fleetmasq-masquerade.service');
    if (opts.systemd && existsSync(wanted)) {
      // As systemd runs the unit: each ExecStart line, $$ meaning $.
      for (const m of readFileSync(unitFile, 'utf8').matchAll(/^ExecStart=\/bin\/sh -c '(.*)'$/gm)) {
        const r = await sh(m[1]!.replaceAll('$$', '$'));
        assert.equal(r.code, 0, r.stderr);
      }
    }
    const rc = join(root, 'etc/rc.local');
    if (existsSync(rc) && statSync(rc).mode & 0o100) {
      const r = await sh(readFileSync(rc, 'utf8'));
      assert.equal(r.code, 0, r.stderr);
    }
  };
  return { dir, root, sh, facts, reboot };
}

async function change(s: Sandbox, plan: Plan): Promise<Facts> {
  assert.equal(plan.error, undefined);
  const r = await s.sh(renderScript(plan.steps, FACTS_SCRIPT));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^@@FM done$/m);
  return parseFacts(r.stdout.slice(r.stdout.indexOf('@@FM done')));
}

const RULE = (iface: string) => `POSTROUTING -o ${iface} -j MASQUERADE`;

const cases: { name: string; systemd: boolean; settings: MasqSettings; rcLocal?: string; rules?: string[]; persisted?: string[]; method: 'systemd' | 'rc.local' }[] = [
  { name: 'a fresh systemd robot', systemd: true, settings: { interface: 'auto', persistence: 'auto' }, method: 'systemd' },
  { name: 'rc.local persistence over a stock rc.local', systemd: true, settings: { interface: 'auto', persistence: 'rc.local' }, rcLocal: STOCK_RC_LOCAL, method: 'rc.local' },
  { name: 'a robot without systemd', systemd: false, settings: { interface: 'wlan0', persistence: 'auto' }, method: 'rc.local' },
  { name: 'duplicates by hand, the operator\'s own rule on eth0', systemd: true, settings: { interface: 'auto', persistence: 'auto' }, rules: [RULE('wlan0'), RULE('wlan0'), RULE('wlan0'), RULE('eth0')], persisted: [RULE('eth0')], method: 'systemd' },
];

for (const c of cases) {
  test(`fast tier: ${c.name}: apply, nothing left to do, a reboot re-applies it, remove undoes it`, async () => {
    const s = await sandbox(c);
    const before = await s.facts();
    const after = await change(s, planApply(before, c.settings));
    const comp = checkCompliance(after, c.settings);
    assert.equal(comp.compliant, true, JSON.stringify(comp.reasons));
    assert.equal(comp.method, c.method);
    assert.deepEqual(planApply(after, c.settings).ops, [], 'a second apply changes nothing');

    await s.reboot();
    const booted = await s.facts();
    assert.notEqual(booted.bootId, after.bootId);
    const proven = checkCompliance(booted, c.settings);
    assert.equal(proven.compliant, true, JSON.stringify(proven.reasons));
    assert.equal(proven.firedThisBoot, true, 'the boot hook ran and wrote its marker');

    const removed = await change(s, planRemove(booted, c.settings));
    assert.equal(removed.rules.filter((r) => r === `-A ${RULE('wlan0')}`).length, 0);
    // The operator's own rule on another interface is left alone by apply and by remove.
    assert.deepEqual(after.rules.filter((r) => r.includes('eth0')), before.rules.filter((r) => r.includes('eth0')), 'apply leaves the operator\'s own rule');
    assert.deepEqual(removed.rules.filter((r) => r.includes('eth0')), booted.rules.filter((r) => r.includes('eth0')), 'remove leaves the operator\'s own rule');
    assert.equal(removed.rules.length, (c.persisted ?? []).length);
    assert.equal(removed.unit, undefined);
    assert.equal(removed.marker, undefined);
    assert.equal(existsSync(join(s.root, 'etc/systemd/system/multi-user.target.wants/fleetmasq-masquerade.service')), false);
    assert.equal(removed.rcLocal?.content, before.rcLocal?.content, 'rc.local as it was (or absent)');
    assert.deepEqual(planRemove(removed, c.settings).ops, [], 'nothing left to remove');
  });
}

test('fast tier: a default route on an interface whose name carries shell: the facts keep it apart, auto refuses it clearly, nothing is run with it', async () => {
  const s = await sandbox({ systemd: true });
  const evil = 'a;touch${IFS}pw';
  writeFileSync(join(s.dir, 'routes'), `default dev ${evil} scope link metric 1 \ndefault via 10.0.0.1 dev wlan0 proto static metric 100 \n`);
  writeFileSync(join(s.dir, 'links'), `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n2: wlan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n7: ${evil}: <BROADCAST,MULTICAST,UP> mtu 1500\n`);
  const f = await s.facts();
  assert.deepEqual(f.routes.map((r) => r.dev), ['wlan0'], 'only names fleetmasq accepts become routes');
  assert.deepEqual(f.refusedRoutes?.map((r) => r.dev), [evil]);
  assert.deepEqual(f.links.map((l) => l.name), ['lo', 'wlan0']);
  assert.deepEqual(f.refusedLinks, [evil]);
  const settings: MasqSettings = { interface: 'auto', persistence: 'auto' };
  const choice = chooseInterface(f, 'auto');
  assert.ok('error' in choice);
  assert.match(choice.error, /default route uses interface "a;touch\$\{IFS\}pw", a name fleetmasq refuses .*nothing was run; set masquerade_interface/);
  assert.match(planApply(f, settings).error ?? '', /a name fleetmasq refuses/);
  assert.deepEqual(planApply(f, settings).ops, []);
  assert.deepEqual(checkCompliance(f, settings).reasons.map((r) => r.code), ['no-uplink']);
  // Named, the robot's other interface is still usable.
  assert.equal(planApply(f, { interface: 'wlan0', persistence: 'auto' }).error, undefined);
});

test('fast tier: the A/B restore script quotes every name, flags that it fired, puts each rule back as found, and deletes itself only once the experiment is gone', async () => {
  const s = await sandbox({ systemd: true, rules: ['POSTROUTING -o a;touch${IFS}pw -j MASQUERADE', 'POSTROUTING -o a;touch${IFS}pw -j MASQUERADE'] });
  const names = ['a;touch${IFS}pw', 'usb+', "it's", '$(touch pw2)'];
  const file = join(s.dir, 'fleetmasq-ab-restore-1.sh');
  const body = abRestoreSh(names, "echo restored >> \"$SANDBOX/audit\"").replace(/PATH=\S+/g, `PATH=${s.dir}/bin:/usr/bin:/bin`);
  writeFileSync(file, body, { mode: 0o700 });
  const go = (pid: number) => run('sh', [file, String(pid), 'off', 'on', 'on', 'off'], { nothrow: true, cwd: s.dir, env: { ...process.env, SANDBOX: s.dir } });
  // The experiment still runs (its pid is alive): the script stays, the flag says it fired.
  let r = await go(process.pid);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(readFileSync(join(s.dir, 'rules'), 'utf8'), "POSTROUTING -o usb+ -j MASQUERADE\nPOSTROUTING -o it's -j MASQUERADE\n");
  assert.ok(existsSync(file) && existsSync(join(s.dir, 'fleetmasq-ab-restore-1.fired')));
  // Again (idempotent), once the experiment is gone: the same state, and it cleans up after itself.
  r = await go(2 ** 22 + 1);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(readFileSync(join(s.dir, 'rules'), 'utf8'), "POSTROUTING -o usb+ -j MASQUERADE\nPOSTROUTING -o it's -j MASQUERADE\n");
  assert.ok(!existsSync(file) && !existsSync(join(s.dir, 'fleetmasq-ab-restore-1.fired')));
  assert.equal(readFileSync(join(s.dir, 'audit'), 'utf8'), 'restored\nrestored\n');
  for (const p of [join(s.dir, 'pw'), join(s.dir, 'pw2'), '/pw', '/pw2']) assert.ok(!existsSync(p), `${p}: nothing ran from a name`);
});

test('fast tier: an rc.local that another user could change (a folder above it writable by others, or owned by another user) is never edited as root', async () => {
  const { chmodSync, chownSync, symlinkSync } = await import('node:fs');
  const s = await sandbox({ systemd: true, rcLocal: STOCK_RC_LOCAL });
  const settings: MasqSettings = { interface: 'auto', persistence: 'rc.local' };
  assert.equal((await s.facts()).rcLocal?.untrusted, undefined, 'root-owned, as robots ship it');
  assert.equal(planApply(await s.facts(), settings).error, undefined);
  chmodSync(join(s.root, 'etc'), 0o777);
  const f = await s.facts();
  assert.match(f.rcLocal?.untrusted ?? '', /a folder above .*rc\.local is writable by everyone/);
  const plan = planApply(f, settings);
  assert.match(plan.error ?? '', /another user could change what root runs at boot: fleetmasq will not edit it/, 'an error: the task runs nothing');
  chmodSync(join(s.root, 'etc'), 0o755);
  if (process.getuid?.() === 0) {
    // /etc/rc.local -> a file in the login user's home.
    mkdirSync(join(s.dir, 'home'), { mode: 0o755 });
    writeFileSync(join(s.dir, 'home/rc.local'), STOCK_RC_LOCAL, { mode: 0o755 });
    chownSync(join(s.dir, 'home'), 1000, 1000);
    rmSync(join(s.root, 'etc/rc.local'));
    symlinkSync(join(s.dir, 'home/rc.local'), join(s.root, 'etc/rc.local'));
    assert.match((await s.facts()).rcLocal?.untrusted ?? '', /a folder above .*rc\.local is owned by uid 1000/);
  }
});

test('fast tier: file writes are atomic and durable (the temp file synced before the rename, the folder after)', async () => {
  const s = await sandbox({ systemd: true });
  const target = join(s.root, 'etc', "it's here");
  const r = await s.sh(renderScript([{ name: 'w', sh: writeFile('/etc/it\'s here', 'hello\n', 0o640) }]));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(target, 'utf8'), 'hello\n');
  assert.equal(statSync(target).mode & 0o7777, 0o640);
  const log = readFileSync(join(s.dir, 'sync.log'), 'utf8').trim().split('\n');
  assert.match(log[0]!, new RegExp(`^sync ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.fleetmasq-tmp\\.\\d+$`));
  assert.equal(log[1], `sync ${join(s.root, 'etc')}`);
});

test('fast tier: an iptables that fails without a final newline is still an error in the facts', async () => {
  const s = await sandbox({ systemd: true });
  writeFileSync(join(s.dir, 'bin', 'iptables'), '#!/bin/sh\ncase "$*" in *-V*) echo "iptables v1.8.9 (nf_tables)"; exit 0;; esac\nprintf "\\033[2Jbroken" >&2; exit 1\n', { mode: 0o755 });
  const f = await s.facts();
  assert.equal(f.backend, 'nft');
  assert.match(f.rulesError ?? '', /broken/);
});

test('fast tier: the robot lock: a second run is refused with the holder named, the first may take it again, an expired one is taken over', async () => {
  const { lockSh, unlockSh, lockedBy } = await import('../../src/remote/script.js');
  const s = await sandbox({ systemd: true });
  const a = { runId: 'aaaa', ttlS: 600, holder: 'ops@ctl (reboot, since 2026-11-26T10:00:00Z)' };
  const b = { runId: 'bbbb', ttlS: 600, holder: 'dev@laptop (apply, since 2026-11-26T10:00:05Z)' };
  const script = (l: typeof a) => renderScript([{ name: 'lock', sh: lockSh(l) }, { name: 'work', sh: 'echo working' }]);
  assert.equal((await s.sh(script(a))).code, 0);
  const refused = await s.sh(script(b));
  assert.equal(refused.code, 75);
  assert.equal(lockedBy(refused.stdout), a.holder);
  assert.doesNotMatch(refused.stdout, /working/, 'nothing ran');
  assert.equal((await s.sh(script(a))).code, 0, 'its own run takes it again (a playbook\'s later task)');
  assert.equal((await s.sh(unlockSh('bbbb'))).code, 0);
  assert.equal((await s.sh(script(b))).code, 75, 'only the holder lets go');
  await s.sh(unlockSh('aaaa'));
  assert.equal((await s.sh(script(b))).code, 0, 'free once let go');
  // A holder that died: its lock expires.
  writeFileSync(join(s.root, 'run/fleetmasq.lock'), `dead ${Math.floor(Date.now() / 1000) - 1} gone@nowhere (apply)\n`);
  assert.equal((await s.sh(script(a))).code, 0, 'an expired lock is taken over');
  assert.match(readFileSync(join(s.root, 'run/fleetmasq.lock'), 'utf8'), /^aaaa \d+ ops@ctl/);
});

/** firewalld's offline tool on direct rules, as far as fleetmasq uses it (query, add, remove). */
const FIREWALL_OFFLINE_CMD = `#!/bin/sh
f="$SANDBOX/root/etc/firewalld/direct.xml"
[ "$1" = --direct ] || exit 2
op=$2; shift 2; ipv=$1; table=$2; chain=$3; prio=$4; shift 4
line="  <rule ipv=\\"$ipv\\" table=\\"$table\\" chain=\\"$chain\\" priority=\\"$prio\\">$*</rule>"
case $op in
--query-rule) [ -f "$f" ] && grep -qxF -- "$line" "$f";;
--add-rule) [ -f "$f" ] || printf '<?xml version="1.0" encoding="utf-8"?>\\n<direct>\\n</direct>\\n' > "$f"
  grep -qxF -- "$line" "$f" || { { grep -vxF '</direct>' "$f"; echo "$line"; echo '</direct>'; } > "$f.t" && mv "$f.t" "$f"; };;
--remove-rule) grep -qxF -- "$line" "$f" || exit 1; grep -vxF -- "$line" "$f" > "$f.t"; mv "$f.t" "$f";;
*) exit 2;;
esac
`;

const UFW_TEMPLATE = `#!/bin/sh
# after.init: if executable, called by ufw-init.
set -e

case "$1" in
start)
    # typically required
    ;;
*)
    ;;
esac
`;

test('fast tier: hooks beside netfilter-persistent, nftables, ufw and firewalld: each manager flushes, its hook puts the rule back once; remove gives every file back', async () => {
  const s = await sandbox({ systemd: true });
  const put = (path: string, content: string, mode = 0o644) => {
    mkdirSync(join(s.root, path, '..'), { recursive: true });
    writeFileSync(join(s.root, path), content, { mode });
  };
  for (const bin of ['usr/sbin/netfilter-persistent', 'usr/sbin/nft', 'usr/sbin/ufw', 'usr/sbin/firewalld']) put(bin, '#!/bin/sh\n', 0o755);
  put('usr/share/netfilter-persistent/plugins.d/15-ip4tables', '#!/bin/sh\n', 0o755);
  put('etc/iptables/rules.v4', '*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 172.31.99.0/24 -j SNAT --to-source 172.31.99.1\nCOMMIT\n', 0o640);
  put('lib/systemd/system/nftables.service', '[Service]\n');
  put('etc/nftables.conf', '#!/usr/sbin/nft -f\n\nflush ruleset\n');
  put('etc/ufw/ufw.conf', 'ENABLED=yes\n');
  put('etc/default/ufw', 'MANAGE_BUILTINS=yes\n');
  put('etc/ufw/after.init', UFW_TEMPLATE, 0o640);
  put('etc/firewalld/firewalld.conf', 'FirewallBackend=nftables\n');
  // firewalld stopped: its offline tool changes direct.xml (as firewalld writes it: no comments of anyone's).
  writeFileSync(join(s.dir, 'bin', 'firewall-cmd'), '#!/bin/sh\necho "not running"; exit 252\n', { mode: 0o755 });
  writeFileSync(join(s.dir, 'bin', 'firewall-offline-cmd'), FIREWALL_OFFLINE_CMD, { mode: 0o755 });
  const userFiles = ['etc/iptables/rules.v4', 'etc/nftables.conf', 'etc/ufw/after.init', 'etc/ufw/ufw.conf', 'etc/firewalld/firewalld.conf'];
  const snap = () => Object.fromEntries(userFiles.map((f) => [f, existsSync(join(s.root, f)) ? `${(statSync(join(s.root, f)).mode & 0o7777).toString(8)} ${readFileSync(join(s.root, f), 'utf8')}` : 'absent']));
  const original = { ...snap(), 'etc/firewalld/direct.xml': 'absent' };

  const settings: MasqSettings = { interface: 'auto', persistence: 'auto' };
  const before = await s.facts();
  assert.deepEqual(Object.keys(before.managers).filter((k) => k !== 'others' && k !== 'hooks').sort(), ['firewalld', 'netfilter-persistent', 'nftables', 'ufw']);
  assert.equal(before.managers.ufw?.manageBuiltins, true);
  assert.equal(before.managers.nftables?.flushes, true);
  assert.equal(before.managers['netfilter-persistent']?.savesNat, true);
  const after = await change(s, planApply(before, settings));
  const c = checkCompliance(after, settings);
  assert.equal(c.compliant, true, JSON.stringify(c.reasons));
  assert.deepEqual(c.managers.map((m) => [m.name, m.hook]), [['netfilter-persistent', 'ok'], ['nftables', 'ok'], ['ufw', 'ok'], ['firewalld', 'ok']]);
  assert.deepEqual(planApply(after, settings).ops, [], 'a second apply changes nothing');

  const live = async () => (await s.facts()).rules.filter((r) => r === '-A POSTROUTING -o wlan0 -j MASQUERADE').length;
  const flush = () => writeFileSync(join(s.dir, 'rules'), '');
  // Each manager as it acts: the nat table emptied, then what runs after it.
  const dropIn = readFileSync(join(s.root, 'etc/systemd/system/nftables.service.d/fleetmasq.conf'), 'utf8');
  const actions: Record<string, () => Promise<unknown>> = {
    'netfilter-persistent start': () => s.sh(`sh /usr/share/netfilter-persistent/plugins.d/90-fleetmasq start`),
    'nftables start': () => s.sh(/^ExecStartPost=-\/bin\/sh -c '(.*)'$/m.exec(dropIn)![1]!),
    'nftables reload': () => s.sh(/^ExecReload=-\/bin\/sh -c '(.*)'$/m.exec(dropIn)![1]!),
    'ufw start': () => s.sh(`/etc/ufw/after.init start`),
    'ufw stop': () => s.sh(`/etc/ufw/after.init stop`),
    // firewalld puts its permanent direct rules back after its flush.
    'firewalld reload': async () => {
      const xml = readFileSync(join(s.root, 'etc/firewalld/direct.xml'), 'utf8');
      for (const m of xml.matchAll(/<rule ipv="ipv4" table="nat" chain="POSTROUTING" priority="0">([^<]*)<\/rule>/g)) await s.sh(`iptables -w -t nat -A POSTROUTING ${m[1]}`);
    },
  };
  for (const [name, act] of Object.entries(actions)) {
    flush();
    const r = (await act()) as { code?: number; stderr?: string } | undefined;
    if (r && 'code' in r) assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.equal(await live(), 1, `${name}: the rule is back, once`);
    await act();
    if (name !== 'firewalld reload') assert.equal(await live(), 1, `${name} twice: still once`);
  }
  assert.ok(statSync(join(s.root, 'etc/ufw/after.init')).mode & 0o100, 'after.init made executable');

  const removed = await change(s, planRemove(await s.facts(), settings));
  assert.deepEqual({ ...snap(), 'etc/firewalld/direct.xml': existsSync(join(s.root, 'etc/firewalld/direct.xml')) ? 'present' : 'absent' }, original);
  assert.equal(existsSync(join(s.root, 'usr/share/netfilter-persistent/plugins.d/90-fleetmasq')), false);
  assert.equal(existsSync(join(s.root, 'etc/systemd/system/nftables.service.d')), false, 'the drop-in folder fleetmasq made is gone');
  assert.deepEqual(planRemove(removed, settings).ops, [], 'nothing left to remove');
  assert.match(readFileSync(join(s.dir, 'systemctl.log'), 'utf8'), /daemon-reload/);
});

test('fast tier: a change that holds the lock checks the facts it was planned from still hold; if another run changed the robot, it does nothing and lets go', async () => {
  const { lockSh, unlockSh } = await import('../../src/remote/script.js');
  const { freshFactsSh, hashOfFacts } = await import('../../src/remote/change.js');
  const s = await sandbox({ systemd: true });
  const hash = hashOfFacts((await s.sh(FACTS_SCRIPT)).stdout);
  const script = renderScript([
    { name: 'lock', sh: lockSh({ runId: 'me', ttlS: 600, holder: 'me@here (apply)' }) },
    { name: 'fresh', sh: freshFactsSh(hash, unlockSh('me')) },
    { name: 'work', sh: 'echo WORKED' },
  ]);
  const same = await s.sh(script);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stdout, /WORKED/);
  // Another run adds the rule between our facts and our change.
  writeFileSync(join(s.dir, 'rules'), 'POSTROUTING -o wlan0 -j MASQUERADE\n');
  rmSync(join(s.root, 'run/fleetmasq.lock'), { force: true });
  const stale = await s.sh(script);
  assert.equal(stale.code, 76);
  assert.match(stale.stdout, /^@@FM stale$/m);
  assert.doesNotMatch(stale.stdout, /WORKED/);
  assert.equal(existsSync(join(s.root, 'run/fleetmasq.lock')), false, 'the lock is let go');
});

test('fast tier: an interface list puts the rule on every interface even when one fails, and says it failed; the unit line runs the same', async () => {
  const { ensureRuleSh } = await import('../../src/remote/rule.js');
  const { renderUnit } = await import('../../src/remote/files/unit.js');
  const s = await sandbox({ systemd: true });
  // iptables that refuses one interface.
  const stub = readFileSync(join(s.dir, 'bin', 'iptables'), 'utf8').replace('op=$1; shift; rule="$*"', 'op=$1; shift; rule="$*"\ncase "$rule" in *"-o bad0 "*) [ "$op" = -A ] && exit 1;; esac');
  writeFileSync(join(s.dir, 'bin', 'iptables'), stub, { mode: 0o755 });
  const r = await s.sh(ensureRuleSh('bad0,wlan0,usb+'));
  assert.notEqual(r.code, 0, 'a failed interface fails the whole');
  assert.equal(readFileSync(join(s.dir, 'rules'), 'utf8'), 'POSTROUTING -o wlan0 -j MASQUERADE\nPOSTROUTING -o usb+ -j MASQUERADE\n', 'the others still got theirs');
  writeFileSync(join(s.dir, 'rules'), '');
  const line = /^ExecStart=\/bin\/sh -c '(.*)'$/m.exec(renderUnit('wlan0,usb+'))![1]!.replaceAll('$$', '$');
  assert.equal((await s.sh(line)).code, 0);
  assert.equal((await s.sh(line)).code, 0);
  assert.equal(readFileSync(join(s.dir, 'rules'), 'utf8'), 'POSTROUTING -o wlan0 -j MASQUERADE\nPOSTROUTING -o usb+ -j MASQUERADE\n', 'once each, however often it runs');
});

describe('fast tier: the robot lock on failure paths (issue 24)', () => {
  // A robot of its own: /run, the boot id and /proc/uptime under a temp dir; `date` may be stubbed.
  async function lockBox() {
    const dir = mkdtempSync(join(tmpdir(), 'fmlock-'));
    for (const d of ['bin', 'root/run', 'root/proc']) mkdirSync(join(dir, d), { recursive: true });
    const bootId = join(dir, 'root/proc/boot_id');
    const uptime = join(dir, 'root/proc/uptime');
    writeFileSync(bootId, `${randomUUID()}\n`);
    writeFileSync(uptime, '1000.25 1900.10\n');
    const place = (script: string) =>
      script
        .replace(/PATH=\S+/g, `PATH=${dir}/bin:/usr/bin:/bin`)
        .replaceAll('/proc/sys/kernel/random/boot_id', bootId)
        .replaceAll('/proc/uptime', uptime)
        .replace(/(?<![\w/.-])\/run(?=[/ ]|$)/gm, `${dir}/root/run`);
    const sh = async (script: string) => {
      const r = await run('sh', ['-c', place(script)], { nothrow: true, env: { ...process.env, PATH: `${dir}/bin:/usr/bin:/bin` } });
      return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    };
    const lockFile = join(dir, 'root/run/fleetmasq.lock');
    const leftovers = () => readdirSync(join(dir, 'root/run')).filter((f) => f !== 'fleetmasq.lock');
    return { dir, sh, lockFile, leftovers, setUptime: (s: number) => writeFileSync(uptime, `${s}.00 1.00\n`), newBoot: () => writeFileSync(bootId, `${randomUUID()}\n`) };
  }
  const spec = (runId: string, until?: 'exit' | 'keep'): LockSpec => ({ runId, ttlS: 600, holder: `${runId}@ctl (apply, since 2026-12-04T03:00:00Z)`, ...(until ? { until } : {}) });

  test('a change that fails mid-way (set -e, exit, TERM, a read-only target) lets go of its lock; the next run is not refused', async () => {
    const b = await lockBox();
    const failures: Record<string, string> = {
      'a failed command under set -e': 'false',
      'a write that fails (as into a read-only /etc)': `printf x > ${shQuote(join(b.dir, 'no-such-folder', 'f'))}`,
      'an exit': 'exit 3',
      'TERM': 'kill -TERM $$; sleep 5',
      'INT': 'kill -INT $$; sleep 5',
    };
    for (const [name, step] of Object.entries(failures)) {
      const r = await b.sh(renderScript([{ name: 'lock', sh: lockSh(spec('aaaa', 'exit')) }, { name: 'work', sh: step }, { name: 'unlock', sh: unlockSh('aaaa') }]));
      assert.notEqual(r.code, 0, name);
      assert.doesNotMatch(r.stdout, /^@@FM done$/m, name);
      assert.equal(existsSync(b.lockFile), false, `${name}: the lock is gone`);
      assert.deepEqual(b.leftovers(), [], `${name}: no temp file or claim left`);
      const next = await b.sh(renderScript([{ name: 'lock', sh: lockSh(spec('bbbb', 'exit')) }, { name: 'work', sh: 'echo WORKED' }, { name: 'unlock', sh: unlockSh('bbbb') }]));
      assert.equal(next.code, 0, `${name}: the next run is not refused: ${next.stdout}`);
      assert.match(next.stdout, /WORKED/);
    }
    // A script killed outright (no trap runs): its lock names a script that is gone, so it is free at once.
    const killed = await b.sh(renderScript([{ name: 'lock', sh: lockSh(spec('aaaa', 'exit')) }, { name: 'work', sh: 'kill -KILL $$' }]));
    assert.notEqual(killed.code, 0);
    assert.equal(existsSync(b.lockFile), true, 'SIGKILL: the lock stays');
    assert.equal((await b.sh(renderScript([{ name: 'lock', sh: lockSh(spec('bbbb')) }]))).code, 0, 'but its holder is gone: taken over');
    assert.match(readFileSync(b.lockFile, 'utf8'), /^bbbb /);
  });

  test('a lock kept on purpose (a reboot) outlives its script, and an exit lock of a live script is refused with the truth', async () => {
    const b = await lockBox();
    assert.equal((await b.sh(lockSh(spec('aaaa')))).code, 0);
    const refused = await b.sh(renderScript([{ name: 'lock', sh: lockSh(spec('bbbb', 'exit')) }, { name: 'work', sh: 'echo WORKED' }]));
    assert.equal(refused.code, 75);
    assert.doesNotMatch(refused.stdout, /WORKED/);
    const info = lockInfo(refused.stdout)!;
    assert.equal(info.holder, spec('aaaa').holder);
    assert.equal(info.leftS, 600);
    assert.equal(info.alive, false);
    assert.ok(Math.abs(info.since! - Date.now() / 1000) < 3600);
    const msg = lockMessage(info);
    assert.match(msg, /^locked by aaaa@ctl \(apply, since 2026-12-04T03:00:00Z\) since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: held by a run that may have died/);
    assert.match(msg, /the lock expires in 10 min$/);
    assert.doesNotMatch(msg, /another run is changing this robot/);
    // A live holder (its script still running) is named as such.
    await b.sh(unlockSh('aaaa'));
    const slow = b.sh(renderScript([{ name: 'lock', sh: lockSh(spec('cccc', 'exit')) }, { name: 'work', sh: `i=0; while [ ! -e ${shQuote(join(b.dir, 'go'))} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done` }]));
    // Once it holds the lock (its script then waits for 'go'), another run meets it.
    for (let i = 0; i < 1200 && !(existsSync(b.lockFile) && readFileSync(b.lockFile, 'utf8').startsWith('cccc ')); i++) await new Promise((r) => setTimeout(r, 50));
    const live = lockInfo((await b.sh(renderScript([{ name: 'lock', sh: lockSh(spec('dddd', 'exit')) }]))).stdout);
    writeFileSync(join(b.dir, 'go'), '');
    assert.equal((await slow).code, 0);
    assert.equal(live?.alive, true);
    assert.match(lockMessage(live!), /^locked by cccc@ctl \(apply, since \S+\): another run is changing this robot \(its script is running there, since \S+\); the lock expires in 10 min$/);
    assert.equal(existsSync(b.lockFile), false, 'let go at its end');
  });

  test('expiry is read on the monotonic clock of this boot: a wall-clock step does not free a lock; its expiry on uptime, or a new boot, does', async () => {
    const b = await lockBox();
    assert.equal((await b.sh(lockSh(spec('aaaa')))).code, 0);
    // The wall clock jumps a day ahead (NTP after a robot booted with no RTC).
    writeFileSync(join(b.dir, 'bin', 'date'), `#!/bin/sh\necho $(( $(/bin/date +%s) + 86400 ))\n`, { mode: 0o755 });
    assert.equal((await b.sh(lockSh(spec('bbbb')))).code, 75, 'a clock step does not free it');
    // And back a day: a lock taken now does not last a day longer.
    writeFileSync(join(b.dir, 'bin', 'date'), `#!/bin/sh\necho $(( $(/bin/date +%s) - 86400 ))\n`, { mode: 0o755 });
    b.setUptime(1000 + 599);
    assert.equal((await b.sh(lockSh(spec('bbbb')))).code, 75, 'one second before its expiry');
    b.setUptime(1000 + 601);
    assert.equal((await b.sh(lockSh(spec('bbbb')))).code, 0, 'expired on uptime: taken over');
    assert.equal((await b.sh(lockSh(spec('cccc')))).code, 75);
    b.newBoot();
    assert.equal((await b.sh(lockSh(spec('cccc')))).code, 0, 'a lock of an earlier boot is free');
  });

  test('a stale lock taken over by many runs at once: exactly one wins, every time', async () => {
    const b = await lockBox();
    for (let round = 0; round < 10; round++) {
      if (round % 2) {
        // An expired lock of this version (taken 100 s of uptime ago, for 1 s, on this boot).
        b.setUptime(1000);
        await b.sh(lockSh({ ...spec('dead'), ttlS: 1 }));
        b.setUptime(1100);
      } else writeFileSync(b.lockFile, `dead ${Math.floor(Date.now() / 1000) - 1} gone@nowhere (apply)\n`); // an older version's, expired
      const takers = await Promise.all(Array.from({ length: 10 }, (_, i) => b.sh(lockSh(spec(`t${round}x${i}`)))));
      const won = takers.filter((t) => t.code === 0);
      assert.equal(won.length, 1, `round ${round}: ${takers.map((t) => t.code).join(',')} ${takers.map((t) => t.stderr).join('')}`);
      assert.ok(takers.every((t) => t.code === 0 || t.code === 75));
      const holder = /^(\S+) /.exec(readFileSync(b.lockFile, 'utf8'))![1]!;
      assert.equal(takers.findIndex((t) => t.code === 0), Number(holder.split('x')[1]), 'the lock is the winner\'s');
      assert.deepEqual(b.leftovers(), [], 'no temp file or claim left');
      rmSync(b.lockFile);
    }
  });
});

describe('fast tier: audit lines a robot user cannot forge (issue 24)', () => {
  test('a change\'s audit line is appended whole to a root-only log (folder 0700, file 0600), one line per change, and to syslog', async () => {
    const { auditLogSh } = await import('../../src/remote/audit.js');
    const s = await sandbox({ systemd: true });
    writeFileSync(join(s.dir, 'bin', 'logger'), '#!/bin/sh\necho "$*" >> "$SANDBOX/logger.log"\n', { mode: 0o755 });
    mkdirSync(join(s.root, 'var/log'), { recursive: true });
    const r = await s.sh(renderScript([{ name: 'audit', sh: auditLogSh(['rule on wlan0\nFORGED 2026 apply by root: nothing', "it's done"], 'ops@ctl', 'apply') }]));
    assert.equal(r.code, 0, r.stderr);
    const log = join(s.root, 'var/log/fleetmasq/audit.log');
    assert.equal(statSync(join(s.root, 'var/log/fleetmasq')).mode & 0o7777, 0o700);
    assert.equal(statSync(log).mode & 0o7777, 0o600);
    const lines = readFileSync(log, 'utf8').split('\n');
    assert.equal(lines.length, 2, 'one line and its newline');
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ apply by ops@ctl: rule on wlan0 FORGED 2026 apply by root: nothing; it's done$/);
    assert.match(readFileSync(log, 'utf8'), /\n$/);
    assert.match(readFileSync(join(s.dir, 'logger.log'), 'utf8'), /^-t fleetmasq -- apply by ops@ctl: rule on wlan0 FORGED/);
    assert.ok(readFileSync(join(s.dir, 'sync.log'), 'utf8').includes(log), 'synced');
    // A second change appends; a log that reached its size is rotated by a rename first.
    await s.sh(auditLogSh(['second'], 'ops@ctl', 'remove'));
    assert.equal(readFileSync(log, 'utf8').split('\n').length, 3);
    writeFileSync(log, 'x'.repeat(1 << 20), { mode: 0o600 });
    await s.sh(auditLogSh(['third'], 'ops@ctl', 'apply'));
    assert.equal(readFileSync(`${log}.1`, 'utf8').length, 1 << 20);
    assert.match(readFileSync(log, 'utf8'), /^\S+ apply by ops@ctl: third\n$/);
  });

  test('a log folder that is a symbolic link is not written through; no logger, no /var/log: the change still succeeds', async () => {
    const { auditLogSh } = await import('../../src/remote/audit.js');
    const s = await sandbox({ systemd: true });
    mkdirSync(join(s.root, 'var/log'), { recursive: true });
    mkdirSync(join(s.dir, 'elsewhere'));
    symlinkSync(join(s.dir, 'elsewhere'), join(s.root, 'var/log/fleetmasq'));
    const r = await s.sh(renderScript([{ name: 'audit', sh: auditLogSh(['x'], 'ops@ctl', 'apply') }]));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^@@FM done$/m);
    assert.deepEqual(readdirSync(join(s.dir, 'elsewhere')), []);
    rmSync(join(s.root, 'var'), { recursive: true });
    const r2 = await s.sh(renderScript([{ name: 'audit', sh: auditLogSh(['x'], 'ops@ctl', 'apply') }]));
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /^@@FM done$/m);
  });
});

describe('fast tier: nothing left behind by a change that fails or is stopped (issue 24)', () => {
  test('a write stopped half-way (TERM while its temp file is synced) leaves neither the temp file nor a half target; with the lock, the lock goes too', async () => {
    const s = await sandbox({ systemd: true });
    // sync stops the script that called it (as a TERM from an operator or a shutdown would, mid-write).
    writeFileSync(join(s.dir, 'bin', 'sync'), '#!/bin/sh\nkill -TERM $PPID\n', { mode: 0o755 });
    for (const lock of [false, true]) {
      const r = await s.sh(
        renderScript([
          ...(lock ? [{ name: 'lock', sh: lockSh({ runId: 'me', ttlS: 600, holder: 'me@here (apply)', until: 'exit' }) }] : []),
          { name: 'w', sh: writeFile('/etc/target.conf', 'new\n', 0o644) },
        ]),
      );
      assert.equal(r.code, 143, r.stderr);
      assert.deepEqual(readdirSync(join(s.root, 'etc')).filter((f) => f.includes('fleetmasq-tmp') || f === 'target.conf'), [], `lock=${lock}: no temp file, no target`);
      assert.equal(existsSync(join(s.root, 'run/fleetmasq.lock')), false);
    }
  });

  test('the unit\'s enable and removal are made durable (the folders synced), as every write is', async () => {
    const s = await sandbox({ systemd: true });
    const settings: MasqSettings = { interface: 'auto', persistence: 'auto' };
    const after = await change(s, planApply(await s.facts(), settings));
    const wants = join(s.root, 'etc/systemd/system/multi-user.target.wants');
    assert.ok(readFileSync(join(s.dir, 'sync.log'), 'utf8').split('\n').includes(`sync ${wants}`), 'enable synced');
    writeFileSync(join(s.dir, 'sync.log'), '');
    await change(s, planRemove(after, settings));
    const log = readFileSync(join(s.dir, 'sync.log'), 'utf8').split('\n');
    assert.ok(log.includes(`sync ${join(s.root, 'etc/systemd/system')}`), 'removal synced');
  });
});
