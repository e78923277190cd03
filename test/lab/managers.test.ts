/**
 * Issue 11: the fix beside the robot's other firewall managers, judged by what the network sees (a
 * datagram sent out of the uplink from a local address that is not the uplink's arrives translated),
 * through reboots and every manager's own restarts and reloads; then remove gives every file back
 * byte-identical and leaves no masquerading behind, also after the next boot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labSsh, USER_RULES_V4, type LabState } from '../../lab/lab.js';
import { cli } from '../helpers/cli.js';
import { bootId, CANDIDATE_ADDR, canRunLab, observedSource, specFile, sshOut, useLab, waitNewBoot } from '../helpers/lab.js';

const { lab } = canRunLab ? useLab(specFile('test/fixtures/managers-fleet.yml', 'tmgr')) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 600_000 };
const ROBOTS = ['persist', 'nft', 'ufw', 'fwd', 'legacyufw', 'plain'];
const inv = () => lab().paths.inventory;
const addr = (robot: string) => lab().robots.find((r) => r.name === robot)!.address;

/** Every robot's masquerading as the network sees it, all at once. */
async function seen(robots = ROBOTS): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const r of robots) out[r] = await observedSource(lab(), r);
  return out;
}
const masqueraded = (robots = ROBOTS) => Object.fromEntries(robots.map((r) => [r, addr(r)]));
const leaking = (robots = ROBOTS) => Object.fromEntries(robots.map((r) => [r, CANDIDATE_ADDR]));

/** The user's firewall files: path, mode and sha256 (or absent), for the byte-identical check. */
const FILES = '/etc/iptables/rules.v4 /etc/nftables.conf /etc/ufw/after.init /etc/ufw/before.rules /etc/ufw/ufw.conf /etc/default/ufw /etc/firewalld/direct.xml /etc/firewalld/firewalld.conf /usr/share/netfilter-persistent/plugins.d/90-fleetmasq /etc/systemd/system/nftables.service.d';
async function files(l: LabState): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const r of ROBOTS) out[r] = await sshOut(l, r, `for f in ${FILES}; do if [ -e $f ]; then echo "$f $(stat -c %a $f) $(sha256sum < $f 2>/dev/null || echo dir)"; else echo "$f absent"; fi; done`);
  return out;
}

async function reboot(robots: string[]): Promise<void> {
  const l = lab();
  const old = await Promise.all(robots.map((r) => bootId(l, r)));
  await Promise.all(robots.map((r) => sshOut(l, r, 'systemd-run --on-active=1 --timer-property=AccuracySec=100ms systemctl reboot >/dev/null')));
  await Promise.all(robots.map((r, i) => waitNewBoot(l, r, old[i]!)));
  // Every unit has settled (firewalld starts late): what is observed is the booted state.
  await Promise.all(robots.map((r) => sshOut(l, r, 'systemctl is-system-running --wait >/dev/null 2>&1 || true')));
}

let original: Record<string, string>;

test('without fleetmasq: every robot leaks its local address; check names each manager', opts, async () => {
  original = await files(lab());
  assert.deepEqual(await seen(), leaking());
  const r = await cli(['check', '-i', inv(), '--json']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const names = (h: string) => (r.json.hosts[h].details.managers as { name: string }[]).map((m) => m.name);
  assert.deepEqual(names('persist'), ['netfilter-persistent']);
  assert.deepEqual(names('nft'), ['nftables']);
  assert.deepEqual(names('ufw'), ['ufw']);
  assert.deepEqual(names('fwd'), ['firewalld']);
  assert.deepEqual(names('plain'), []);
  const fwd = r.json.hosts.fwd.details.managers[0];
  assert.equal(fwd.running, true);
  assert.match(fwd.notes.join(' '), /backend nftables, version 1\.3/);
  assert.match(r.json.hosts.ufw.details.managers[0].flushes, /MANAGE_BUILTINS=yes/);
  assert.match(r.json.hosts.nft.details.managers[0].flushes, /flushes the ruleset/);
  assert.match(r.json.hosts.persist.details.managers[0].flushes, /rules\.v4 restores a nat table/);
});

test('apply: masquerading is in effect on every robot, with a hook beside each manager', opts, async () => {
  const r = await cli(['apply', '-i', inv(), '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const [h, m] of [['persist', 'netfilter-persistent'], ['nft', 'nftables'], ['ufw', 'ufw'], ['fwd', 'firewalld']])
    assert.ok(r.json.hosts[h].changes.some((c: string) => c.includes(`hook beside ${m}`)), `${h}: ${r.json.hosts[h].changes}`);
  assert.deepEqual(await seen(), masqueraded());
  const c = await cli(['check', '-i', inv(), '--json']);
  assert.equal(c.code, 0, c.stdout);
  for (const h of ['persist', 'nft', 'ufw', 'fwd']) assert.equal(c.json.hosts[h].details.managers[0].hook, 'ok', h);
});

test('two reboots: masquerading is in effect after each, and verify proves the boot hook fired', opts, async () => {
  for (let i = 0; i < 2; i++) {
    await reboot(ROBOTS);
    assert.deepEqual(await seen(), masqueraded(), `after reboot ${i + 1}`);
    const v = await cli(['verify', '-i', inv(), '--json']);
    assert.equal(v.code, 0, v.stdout);
  }
  // The team's own SNAT rule from rules.v4 is live beside ours.
  assert.match(await sshOut(lab(), 'persist', 'iptables -w -t nat -S POSTROUTING'), /-A POSTROUTING -s 172\.31\.99\.0\/24 -o eth9 -j SNAT --to-source 172\.31\.99\.1/);
});

test("every manager's own restarts and reloads: masquerading is back each time", opts, async () => {
  const actions: [string, string][] = [
    ['persist', 'systemctl restart netfilter-persistent'],
    ['persist', 'netfilter-persistent reload'],
    ['persist', 'netfilter-persistent start'],
    ['nft', 'systemctl restart nftables'],
    ['nft', 'systemctl reload nftables'],
    ['ufw', 'ufw reload'],
    ['ufw', 'ufw disable && ufw --force enable'],
    ['ufw', 'systemctl restart ufw'],
    ['legacyufw', 'ufw reload'],
    ['fwd', 'firewall-cmd --reload'],
    ['fwd', 'systemctl restart firewalld'],
    ['fwd', 'firewall-cmd --complete-reload'],
  ];
  for (const [robot, action] of actions) {
    await sshOut(lab(), robot, `${action} >/dev/null`);
    assert.equal(await observedSource(lab(), robot), addr(robot), `${robot}: masquerading gone after '${action}'`);
    const rules = await sshOut(lab(), robot, 'iptables -w -t nat -S POSTROUTING');
    assert.equal(rules.split('\n').filter((l) => /-j MASQUERADE$/.test(l)).length, 1, `${robot} after '${action}': ${rules}`);
  }
  assert.equal((await cli(['check', '-i', inv()])).code, 0);
});

/** Each manager without fleetmasq's hook (taken away behind the tool's back), and what check must say. */
const UNHOOKED: { robot: string; unhook: string; action: string; culprit: RegExp; hook: RegExp }[] = [
  {
    robot: 'persist',
    unhook: 'rm /usr/share/netfilter-persistent/plugins.d/90-fleetmasq',
    action: 'systemctl restart netfilter-persistent',
    culprit: /netfilter-persistent\.service \(re\)started at \d\d:\d\d:\d\d UTC and its rules\.v4 restores a nat table of its own/,
    hook: /hook beside it \(\/usr\/share\/netfilter-persistent\/plugins\.d\/90-fleetmasq\) is missing/,
  },
  {
    robot: 'nft',
    unhook: 'rm /etc/systemd/system/nftables.service.d/fleetmasq.conf && systemctl daemon-reload',
    action: 'systemctl restart nftables',
    culprit: /nftables\.service \(re\)started at \d\d:\d\d:\d\d UTC and its conf flushes the ruleset/,
    hook: /hook beside it \(\/etc\/systemd\/system\/nftables\.service\.d\/fleetmasq\.conf\) is missing/,
  },
  {
    robot: 'ufw',
    unhook: 'chmod a-x /etc/ufw/after.init',
    action: 'systemctl restart ufw',
    culprit: /ufw\.service \(re\)started at \d\d:\d\d:\d\d UTC and it flushes the built-in chains \(MANAGE_BUILTINS=yes\)/,
    hook: /hook beside it \(\/etc\/ufw\/after\.init\) is not current/,
  },
  {
    robot: 'fwd',
    unhook: 'rm /etc/firewalld/direct.xml',
    action: 'systemctl restart firewalld',
    culprit: /firewalld\.service \(re\)started at \d\d:\d\d:\d\d UTC and it flushes every iptables table/,
    hook: /hook beside it \(\/etc\/firewalld\/direct\.xml\) is missing/,
  },
];

test('without its hook each manager takes masquerading with it, and check names the culprit and when; apply puts it back', opts, async () => {
  const l = lab();
  for (const u of UNHOOKED) {
    await sshOut(l, u.robot, `${u.unhook} && sleep 1.1 && ${u.action} >/dev/null`);
    assert.equal(await observedSource(l, u.robot), CANDIDATE_ADDR, `${u.robot}: '${u.action}' without the hook should take masquerading`);
    const r = await cli(['check', '-i', inv(), '-l', u.robot, '--json']);
    assert.equal(r.code, 2);
    const reasons = r.json.hosts[u.robot].reasons.map((x: { text: string }) => x.text).join('\n');
    assert.match(reasons, /the rule is not live on (wlan0|eth0): fired at this boot \(\d\d:\d\d:\d\d UTC\), gone since: /, reasons);
    assert.match(reasons, u.culprit, reasons);
    assert.match(reasons, u.hook, reasons);
  }
  const a = await cli(['apply', '-i', inv()]);
  assert.equal(a.code, 0, a.stdout);
  assert.deepEqual(await seen(), masqueraded());
  for (const u of UNHOOKED) {
    await sshOut(l, u.robot, `${u.action} >/dev/null`);
    assert.equal(await observedSource(l, u.robot), addr(u.robot), `${u.robot}: hooked again, '${u.action}' keeps masquerading`);
  }
});

test('remove: every file byte-identical to before, no masquerading now or after the next boot', opts, async () => {
  const r = await cli(['remove', '-i', inv(), '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(await files(lab()), original);
  assert.deepEqual(await seen(), leaking());
  await reboot(ROBOTS);
  assert.deepEqual(await seen(), leaking());
  assert.deepEqual(await files(lab()), original);
  // The team's rules.v4 was never touched, and its SNAT rule still loads.
  assert.equal(await sshOut(lab(), 'persist', 'cat /etc/iptables/rules.v4'), USER_RULES_V4);
  const check = await labSsh(lab(), 'persist', 'iptables -w -t nat -S POSTROUTING');
  assert.match(check.stdout, /SNAT --to-source 172\.31\.99\.1/);
});

test("issue 24: firewalld rewrites direct.xml for an admin's own direct rules: apply adds one rule, and after reboot, remove and a reload no masquerading is left; the admin's rules intact", opts, async () => {
  const l = lab();
  const rules = () => sshOut(l, 'fwd', 'firewall-cmd --permanent --direct --get-all-rules');
  const masqRules = async () => (await rules()).split('\n').filter((r) => /MASQUERADE/.test(r));
  assert.equal((await cli(['remove', '-i', inv(), '-l', 'fwd'])).code, 0);
  // The admin's own direct rule, added with firewall-cmd (firewalld writes direct.xml itself).
  await sshOut(l, 'fwd', 'firewall-cmd --permanent --direct --add-rule ipv4 filter INPUT 0 -p tcp --dport 9 -j ACCEPT >/dev/null && firewall-cmd --reload >/dev/null');
  const applied = await cli(['apply', '-i', inv(), '-l', 'fwd', '--json']);
  assert.equal(applied.code, 0, applied.stdout + applied.stderr);
  assert.deepEqual(await masqRules(), ['ipv4 nat POSTROUTING 0 -o wlan0 -j MASQUERADE']);
  assert.equal(await observedSource(l, 'fwd'), addr('fwd'));
  // Another of the admin's own, after fleetmasq's: firewalld rewrites the file again; apply adds nothing.
  await sshOut(l, 'fwd', 'firewall-cmd --permanent --direct --add-rule ipv4 filter INPUT 0 -p tcp --dport 10 -j ACCEPT >/dev/null && firewall-cmd --reload >/dev/null');
  const again = await cli(['apply', '-i', inv(), '-l', 'fwd', '--json']);
  assert.equal(again.code, 0, again.stdout);
  assert.deepEqual(again.json.hosts.fwd.changes, [], 'nothing to do: the rule is found by content');
  assert.deepEqual(await masqRules(), ['ipv4 nat POSTROUTING 0 -o wlan0 -j MASQUERADE'], 'one rule, not two');
  await reboot(['fwd']);
  assert.equal(await observedSource(l, 'fwd'), addr('fwd'), 'masquerading after the reboot');
  const removed = await cli(['remove', '-i', inv(), '-l', 'fwd', '--json']);
  assert.equal(removed.code, 0, removed.stdout);
  assert.deepEqual(await masqRules(), []);
  await sshOut(l, 'fwd', 'firewall-cmd --reload >/dev/null');
  assert.equal(await observedSource(l, 'fwd'), CANDIDATE_ADDR, 'no masquerading after remove and a reload');
  await reboot(['fwd']);
  assert.equal(await observedSource(l, 'fwd'), CANDIDATE_ADDR, 'nor after the next boot');
  assert.deepEqual((await rules()).trim().split('\n').sort(), ['ipv4 filter INPUT 0 -p tcp --dport 10 -j ACCEPT', 'ipv4 filter INPUT 0 -p tcp --dport 9 -j ACCEPT'], "the admin's rules intact");
  await sshOut(l, 'fwd', 'firewall-cmd --permanent --direct --remove-rule ipv4 filter INPUT 0 -p tcp --dport 9 -j ACCEPT >/dev/null; firewall-cmd --permanent --direct --remove-rule ipv4 filter INPUT 0 -p tcp --dport 10 -j ACCEPT >/dev/null; firewall-cmd --reload >/dev/null');
});
