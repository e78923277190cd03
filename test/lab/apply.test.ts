/**
 * Issue 4 acceptance, end to end on a mixed lab fleet; every claim is checked over SSH (OpenSSH, not
 * fleetmasq's transport).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { STOCK_RC_LOCAL, type LabState } from '../../lab/lab.js';
import { FACTS_SCRIPT, parseFacts, WANTS_LINK } from '../../src/facts/facts.js';
import { cli } from '../helpers/cli.js';
import { bootId, canRunLab, specFile, sshOut, useLab, waitNewBoot } from '../helpers/lab.js';

const { lab } = canRunLab ? useLab(specFile('test/fixtures/apply-fleet.yml', 'tapply'), prepare) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 240_000 };
const IFACE: Record<string, string> = { wifi: 'wlan0', wired: 'eth0', cell: 'wwan0', sudoer: 'wlan0', sudopw: 'wlan0', legacy: 'eth0', rclocal: 'wlan0', done: 'wlan0', dupes: 'wlan0' };
const RULE = (i: string) => `-A POSTROUTING -o ${i} -j MASQUERADE`;

let env: Record<string, string>;
const inv = () => lab().paths.inventory;

/** Rules, file hashes and mtimes: the state that --check must leave alone and a second apply must not touch. */
async function snapshot(l: LabState): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all(
    l.robots.map(async (r) => {
      out[r.name] = await sshOut(
        l,
        r.name,
        'iptables -w -t nat -S POSTROUTING; for f in /etc/rc.local /etc/systemd/system/fleetmasq-masquerade.service; do [ -e $f ] && { sha256sum $f; stat -c "%a %Y" $f; } || echo "no $f"; done; systemctl is-enabled fleetmasq-masquerade.service 2>&1 || true',
      );
    }),
  );
  return out;
}

/** What the robot's systemd says of our unit: `systemctl show` properties, sorted, on one line. */
async function unitState(l: LabState, robot: string, ...props: string[]): Promise<string> {
  const out = await sshOut(l, robot, `systemctl show ${props.map((p) => `-p ${p}`).join(' ')} fleetmasq-masquerade.service`);
  return out.trim().split('\n').sort().join(' ');
}

async function prepare(l: LabState): Promise<void> {
  env = { FLEETMASQ_BECOME_PASSWORD: l.robots.find((r) => r.name === 'sudopw')!.becomePassword! };
  // A robot already made compliant, and a robot where hand fixes stacked the rule three times.
  const r = await cli(['apply', '-i', l.paths.inventory, '-l', 'done']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  await sshOut(l, 'dupes', `for i in 1 2 3; do iptables -w -t nat -A POSTROUTING -o wlan0 -j MASQUERADE; done`);
}

test('apply --check changes nothing and reports what would change', opts, async () => {
  const before = await snapshot(lab());
  const r = await cli(['apply', '-i', inv(), '--check', '--diff', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await snapshot(lab()), before);
  assert.equal(r.json.hosts.done.status, 'ok');
  assert.equal(r.json.hosts.wifi.status, 'changed');
  assert.ok(r.json.hosts.dupes.changes.includes('remove 2 duplicate(s) of the live rule on wlan0'));
  assert.ok(r.json.hosts.rclocal.diffs.some((d: string) => d.includes('+# BEGIN fleetmasq managed block')));
});

test('apply: every robot gets the rule exactly once on its interface, and persistence', opts, async () => {
  const l = lab();
  const r = await cli(['apply', '-i', inv(), '--json'], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.json.summary.failed, 0);
  assert.equal(r.json.hosts.done.status, 'ok');
  for (const robot of l.robots) {
    const rules = await sshOut(l, robot.name, 'iptables -w -t nat -S POSTROUTING');
    const count = rules.split('\n').filter((x) => x === RULE(IFACE[robot.name]!)).length;
    assert.equal(count, 1, `${robot.name}: ${rules}`);
    assert.equal(r.json.hosts[robot.name].details.interface, IFACE[robot.name]);
    if (robot.name === 'rclocal') {
      assert.equal(r.json.hosts.rclocal.details.persistence, 'rc.local');
      const rc = await sshOut(l, 'rclocal', 'cat /etc/rc.local');
      // The original lines, in order, and the block before the final exit 0.
      const orig = STOCK_RC_LOCAL.split('\n').filter(Boolean);
      assert.deepEqual(rc.split('\n').filter((x) => orig.includes(x) && !x.startsWith('fi')), orig);
      assert.ok(rc.indexOf('# END fleetmasq managed block') < rc.lastIndexOf('exit 0'));
    } else {
      assert.equal((await sshOut(l, robot.name, 'systemctl is-enabled fleetmasq-masquerade.service')).trim(), 'enabled');
      // Installed without a manager reload, yet the robot's systemd sees the unit as it is on disk.
      assert.equal(await unitState(l, robot.name, 'LoadState', 'UnitFileState', 'NeedDaemonReload'), 'LoadState=loaded NeedDaemonReload=no UnitFileState=enabled');
    }
  }
  assert.match(await sshOut(l, 'legacy', 'iptables-legacy -t nat -S POSTROUTING'), /-o eth0 -j MASQUERADE/);
});

test('after a reboot started outside fleetmasq, check: all compliant and fired at this boot', opts, async () => {
  const l = lab();
  const old = Object.fromEntries(await Promise.all(l.robots.map(async (r) => [r.name, await bootId(l, r.name)] as const)));
  await Promise.all(l.robots.map((r) => sshOut(l, r.name, 'systemd-run --on-active=1 --timer-property=AccuracySec=100ms systemctl reboot >/dev/null')));
  await Promise.all(l.robots.map((r) => waitNewBoot(l, r.name, old[r.name]!)));
  const r = await cli(['check', '-i', inv(), '--json'], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const robot of l.robots) {
    const h = r.json.hosts[robot.name];
    assert.equal(h.compliant, true, `${robot.name}: ${JSON.stringify(h.reasons)}`);
    assert.equal(h.details.firedThisBoot, true, robot.name);
    assert.notEqual(h.details.bootId, old[robot.name]);
  }
  // rc.local's original lines still run at boot.
  assert.equal((await sshOut(l, 'rclocal', 'cat /run/vendor-startup.ran')).trim(), await bootId(l, 'rclocal'));
});

test('a second apply reports nothing changed and touches nothing', opts, async () => {
  const before = await snapshot(lab());
  const r = await cli(['apply', '-i', inv(), '--json'], env);
  assert.equal(r.code, 0);
  assert.equal(r.json.summary.changed, 0);
  assert.equal(r.json.summary.ok, lab().robots.length);
  assert.deepEqual(await snapshot(lab()), before);
});

test('remove restores every robot (rc.local byte-identical, no unit, no rule)', opts, async () => {
  const l = lab();
  const r = await cli(['remove', '-i', inv(), '--json'], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const stock = createHash('sha256').update(STOCK_RC_LOCAL).digest('hex');
  for (const robot of l.robots) {
    const state = await sshOut(l, robot.name, 'iptables -w -t nat -S POSTROUTING | grep -c MASQUERADE || true; ls /etc/systemd/system | grep -c fleetmasq-masq || true; [ -e /etc/rc.local ] && sha256sum /etc/rc.local | cut -d" " -f1 || echo none');
    const [rules, units, rc] = state.trim().split('\n');
    assert.equal(rules, '0', robot.name);
    assert.equal(units, '0', robot.name);
    assert.equal(rc, robot.name === 'rclocal' ? stock : 'none', robot.name);
  }
  // The unit had run at this boot (the reboot above); systemd must not keep it as a phantom.
  assert.equal(await unitState(l, 'wifi', 'LoadState', 'ActiveState'), 'ActiveState=inactive LoadState=not-found');
  const again = await cli(['check', '-i', inv(), '--json'], env);
  assert.equal(again.code, 2);
  assert.equal(again.json.summary.nonCompliant, l.robots.length);
});

test('a unit file deleted behind our back while the unit is active: apply reinstalls it and systemd sees it', opts, async () => {
  const l = lab();
  const show = () => unitState(l, 'wired', 'LoadState', 'ActiveState', 'NeedDaemonReload');
  assert.equal((await cli(['apply', '-i', inv(), '-l', 'wired'], env)).code, 0);
  // Started by hand (as at boot), then its file (and marker) deleted and systemd reloaded: active, not found.
  await sshOut(l, 'wired', 'systemctl start fleetmasq-masquerade.service && rm /etc/systemd/system/fleetmasq-masquerade.service /run/fleetmasq/boot-marker && systemctl daemon-reload');
  assert.equal(await show(), 'ActiveState=active LoadState=not-found NeedDaemonReload=no');
  const r = await cli(['apply', '-i', inv(), '-l', 'wired', '--json'], env);
  assert.equal(r.json.hosts.wired.status, 'changed', r.stdout);
  assert.equal(await show(), 'ActiveState=active LoadState=loaded NeedDaemonReload=no');
  assert.equal((await cli(['remove', '-i', inv(), '-l', 'wired'], env)).code, 0);
});

test('the facts read the unit\'s and rc-local\'s systemd state as systemctl does, in every state', opts, async () => {
  const l = lab();
  const facts = async () => parseFacts(await sshOut(l, 'wired', 'sh -s', FACTS_SCRIPT));
  const systemctl = async (unit: string) => (await sshOut(l, 'wired', `systemctl is-enabled ${unit} 2>&1 || true`)).trim();
  const same = async (want: string) => {
    const f = await facts();
    assert.equal(f.unitEnabled, want);
    assert.equal(await systemctl('fleetmasq-masquerade.service'), want);
    return f;
  };
  assert.equal((await cli(['apply', '-i', inv(), '-l', 'wired'], env)).code, 0);
  const f = await same('enabled');
  assert.equal(f.rcLocalService, 'not-masked');
  assert.notEqual(await systemctl('rc-local.service'), 'masked');

  await sshOut(l, 'wired', 'systemctl disable --quiet fleetmasq-masquerade.service');
  await same('disabled');
  let r = await cli(['check', '-i', inv(), '-l', 'wired', '--json'], env);
  assert.equal(r.code, 2);
  assert.ok(r.json.hosts.wired.reasons.some((x: { code: string; text: string }) => x.code === 'unit-not-enabled' && /not enabled \(disabled\)/.test(x.text)), r.stdout);
  r = await cli(['apply', '-i', inv(), '-l', 'wired', '--json'], env);
  assert.equal(r.json.hosts.wired.status, 'changed', r.stdout);
  await same('enabled');

  // A .wants link that does not resolve leaves a doubt: systemctl is asked, so the facts say what it says.
  await sshOut(l, 'wired', `ln -sfn /nonexistent/fleetmasq-masquerade.service ${WANTS_LINK}`);
  await same(await systemctl('fleetmasq-masquerade.service'));
  // The link deleted by hand: disabled, and apply enables it again.
  await sshOut(l, 'wired', `rm ${WANTS_LINK}`);
  await same('disabled');
  assert.equal((await cli(['apply', '-i', inv(), '-l', 'wired'], env)).code, 0);
  await same('enabled');
  // A runtime mask does not override a unit file in /etc: systemctl and the facts both still say enabled.
  await sshOut(l, 'wired', 'systemctl mask --runtime --quiet fleetmasq-masquerade.service');
  await same('enabled');
  await sshOut(l, 'wired', 'systemctl unmask --runtime --quiet fleetmasq-masquerade.service');

  // rc-local.service masked: rc.local persistence is refused, with the reason.
  await sshOut(l, 'wired', 'systemctl mask --quiet rc-local.service');
  assert.equal((await facts()).rcLocalService, 'masked');
  assert.equal(await systemctl('rc-local.service'), 'masked');
  r = await cli(['apply', '-i', inv(), '-l', 'wired', '--persistence', 'rc.local', '--json'], env);
  assert.notEqual(r.code, 0);
  assert.match(JSON.stringify(r.json.hosts.wired), /rc-local.service is masked/);
  await sshOut(l, 'wired', 'systemctl unmask --quiet rc-local.service');
  assert.equal((await facts()).rcLocalService, 'not-masked');
  assert.equal((await cli(['remove', '-i', inv(), '-l', 'wired'], env)).code, 0);
});
