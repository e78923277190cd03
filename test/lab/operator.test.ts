/** Issue 18 on lab robots: every output tells the same, exact story, and everyday mistakes are caught. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labLink } from '../../lab/lab.js';
import { recordedResults, recordOf } from '../helpers/store.js';
import { cli } from '../helpers/cli.js';
import { bootId, canRunLab, specFile, sshOut, useLab } from '../helpers/lab.js';
import { CTRL_C, runInPty } from '../helpers/pty.js';
import { assertRunDocument } from '../helpers/schema.js';

const { lab } = canRunLab ? useLab(specFile('test/fixtures/operator-fleet.yml', 'toper')) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 240_000 };
const UNIT = '/etc/systemd/system/fleetmasq-masquerade.service';
const natRules = async (robot: string) => (await sshOut(lab(), robot, 'iptables -w -t nat -S POSTROUTING')).split('\n').filter((l) => l.includes('MASQUERADE'));

test('Ctrl-C in a real terminal mid-apply: the robot in flight finishes its step, recap, run record, exit 130', opts, async () => {
  const l = lab();
  // Cellular latency, so that the Ctrl-C lands while the first robot is being changed.
  for (const r of ['o-01', 'o-02', 'o-03']) await labLink(l, r, { rttMs: 400 });
  const { CI: _ci, ...env } = process.env;
  const res = runInPty(
    [process.execPath, join(process.cwd(), 'bin/fleetmasq.js'), 'apply', '-i', l.paths.inventory, '-l', 'o-*', '--serial', '1'],
    [{ after: 'o-01: changing', send: CTRL_C }],
    { ...env, TERM: 'xterm-256color' },
  );
  for (const r of ['o-01', 'o-02', 'o-03']) await labLink(l, r, { rttMs: 0 });
  assert.equal(res.untriggered, 0, `never saw o-01 being changed:\n${res.output}`);
  assert.equal(res.killed, false, res.output);
  assert.equal(res.code, 130, res.output);
  assert.match(res.output, /interrupted: letting robots in flight finish their step/);
  assert.match(res.output, /o-01 +changed /, 'the robot in flight finished its step (not cut: its link survived the Ctrl-C)');
  assert.match(res.output, /o-02 +skipped .*not started: interrupted/);
  assert.match(res.output, /apply recap: 3 robots {2}ok=0 {2}changed=1 {2}unreachable=0 {2}failed=0 {2}skipped=2/);
  const record = /run record: (\S+ run \S+)/.exec(res.output)?.[1];
  assert.ok(record && existsSync(recordOf(record).location), `run record named in the recap: ${record}`);
  const lines = await recordedResults(record, env);
  assert.deepEqual(lines.map((x) => [x.host, x.status]).sort(), [['o-01', 'changed'], ['o-02', 'skipped'], ['o-03', 'skipped']]);
  // Every robot whole: o-01 fully changed, the others untouched.
  assert.deepEqual(await natRules('o-01'), ['-A POSTROUTING -o wlan0 -j MASQUERADE']);
  assert.equal((await sshOut(l, 'o-01', 'systemctl is-enabled fleetmasq-masquerade.service')).trim(), 'enabled');
  for (const r of ['o-02', 'o-03']) {
    assert.deepEqual(await natRules(r), [], r);
    assert.equal((await sshOut(l, r, `test -e ${UNIT} && echo yes || echo no`)).trim(), 'no', r);
  }
});

test('a second Ctrl-C abandons a robot waiting for its reboot: recap, exit 130, no hang', opts, async () => {
  const l = lab();
  const { CI: _ci, ...env } = process.env;
  const res = runInPty(
    [process.execPath, join(process.cwd(), 'bin/fleetmasq.js'), 'reboot', '-i', l.paths.inventory, '-l', 'gone', '--force'],
    [
      { after: 'gone: waiting for the new boot', send: CTRL_C },
      { after: 'Ctrl-C again to abandon', send: CTRL_C },
    ],
    { ...env, TERM: 'xterm-256color' },
    90,
  );
  assert.equal(res.untriggered, 0, res.output);
  assert.equal(res.killed, false, `it hung:\n${res.output}`);
  assert.equal(res.code, 130, res.output);
  assert.match(res.output, /gone +failed .*interrupted: abandoned/);
  assert.match(res.output, /reboot recap: 1 robot {2}/);
});

test('a typo in the interface fails that robot and changes nothing; switching interface moves the rule', opts, async () => {
  const l = lab();
  const typo = await cli(['apply', '-i', l.paths.inventory, '-l', 'multi', '--interface', 'wlna0', '--json']);
  assert.equal(typo.code, 2);
  assert.equal(typo.json.hosts.multi.error.kind, 'config');
  assert.match(typo.json.hosts.multi.error.message, /interface wlna0 does not exist on this robot \(it has .*wlan0.*\): nothing changed/);
  assert.deepEqual(await natRules('multi'), []);
  assert.equal((await sshOut(l, 'multi', `test -e ${UNIT} && echo yes || echo no`)).trim(), 'no');

  // A dry run of the whole rollout on a robot never applied: it says what it would change and that
  // the reboot and verification would follow; nothing is judged on the unchanged robot.
  const dryPlay = await cli(['play', 'playbooks/rollout.yml', '-i', l.paths.inventory, '-l', 'multi', '--check', '--json']);
  assert.equal(dryPlay.code, 0, dryPlay.stdout + dryPlay.stderr);
  assert.equal(dryPlay.json.checkMode, true);
  assert.equal(dryPlay.json.hosts.multi.status, 'changed');
  assert.ok(dryPlay.json.hosts.multi.changes.some((c: string) => /reboot to prove it: would run after the changes above \(dry run: not done\)/.test(c)), dryPlay.json.hosts.multi.changes.join('; '));
  assert.deepEqual(await natRules('multi'), []);

  // A dry run says so everywhere.
  const dry = await cli(['apply', '-i', l.paths.inventory, '-l', 'multi', '--check']);
  assert.match(dry.stdout.split('\n')[0]!, /^DRY RUN \(--check\): nothing was changed/);
  assert.match(dry.stdout, /apply \(dry run\) recap: 1 robot {2}ok=0 {2}would_change=1/);
  const dryJson = await cli(['apply', '-i', l.paths.inventory, '-l', 'multi', '--check', '--json']);
  assert.equal(dryJson.json.checkMode, true);
  assert.deepEqual(await natRules('multi'), [], 'the dry run changed nothing');

  assert.equal((await cli(['apply', '-i', l.paths.inventory, '-l', 'multi'])).code, 0);
  assert.deepEqual(await natRules('multi'), ['-A POSTROUTING -o wlan0 -j MASQUERADE']);
  // Audit: the robot's own journal says what changed and who changed it.
  const { who } = await import('../../src/records/audit.js');
  const journal = await sshOut(l, 'multi', 'journalctl -t fleetmasq --no-pager -o cat');
  assert.ok(journal.includes(`apply by ${who()}: install the systemd unit fleetmasq-masquerade.service; enable fleetmasq-masquerade.service at boot; add live rule`), journal);
  const moved = await cli(['apply', '-i', l.paths.inventory, '-l', 'multi', '--interface', 'eth1', '--json']);
  assert.equal(moved.code, 0, moved.stdout + moved.stderr);
  assert.ok(moved.json.hosts.multi.changes.some((c: string) => /^move the live rule from wlan0 to eth1/.test(c)), moved.json.hosts.multi.changes.join('; '));
  assert.deepEqual(await natRules('multi'), ['-A POSTROUTING -o eth1 -j MASQUERADE'], 'moved, not left live beside the new one');
  assert.match(await sshOut(l, 'multi', `cat ${UNIT}`), /-o eth1 -j MASQUERADE/);
});

test('re-running the rollout playbook does not reboot robots that are already proven', opts, async () => {
  const l = lab();
  const first = await cli(['play', 'playbooks/rollout.yml', '-i', l.paths.inventory, '-l', 'multi', '--json']);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.equal(first.json.hosts.multi.compliant, true);
  assert.notEqual(first.json.hosts.multi.details.previousBootId, undefined, 'the interface moved back to wlan0: a change, so a reboot proves it');
  const boot = await bootId(l, 'multi');
  const again = await cli(['play', 'playbooks/rollout.yml', '-i', l.paths.inventory, '-l', 'multi', '--json']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(again.json.hosts.multi.status, 'ok');
  assert.equal(again.json.hosts.multi.compliant, true);
  assert.match(again.json.hosts.multi.details.rebootSkipped, /not needed/);
  assert.equal(await bootId(l, 'multi'), boot, 'not rebooted again');
});

test('play honours --reboot-timeout over the playbook\'s; compliance counts every robot asked about', opts, async () => {
  const l = lab();
  assert.equal((await cli(['apply', '-i', l.paths.inventory, '-l', 'dead'])).code, 0);
  const r = await cli(['play', 'playbooks/reboot-verify.yml', '-i', l.paths.inventory, '-l', 'dead', '--reboot-timeout', '4', '--json']);
  assert.equal(r.code, 2);
  assertRunDocument(r.json, 'play with a reboot timeout');
  assert.equal(r.json.hosts.dead.error.kind, 'reboot-timeout');
  assert.match(r.json.hosts.dead.error.message, /within 4 s/);

  // dead is powered off now: a check cannot know its compliance, and it does not count as compliant.
  const d = mkdtempSync(join(tmpdir(), 'fmo-'));
  const c = await cli(['check', '-i', l.paths.inventory, '--json', '--html', join(d, 'r.html')]);
  assertRunDocument(c.json, 'check of a mixed fleet');
  const s = c.json.summary;
  assert.equal(s.total, 6);
  assert.equal(s.unreachable, 2, 'dead and gone are powered off');
  assert.equal(s.compliant, 2, 'o-01 and multi');
  assert.equal(s.nonCompliant, 2, 'o-02 and o-03 were never applied');
  assert.equal(s.unknown, 2);
  assert.equal(c.code, 2);
  const text = await cli(['check', '-i', l.paths.inventory]);
  assert.match(text.stdout, /compliant=2\/6 \(2 unknown\)/);
  const html = readFileSync(join(d, 'r.html'), 'utf8');
  const data = JSON.parse(/<script id="data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);
  assert.equal(data.robots.find((x: { name: string }) => x.name === 'dead').fields.checkedAt, null, 'an unreachable robot was not checked');
  assert.equal(data.inventory, l.paths.inventory);
  // status answers from the run records alone, with every link stalled: nothing is contacted.
  const runs = { FLEETMASQ_STORE: join(d, 'fm.db') };
  assert.equal((await cli(['check', '-i', l.paths.inventory, '--json'], runs)).json.summary.total, 6);
  for (const r of l.robots) await labLink(l, r.name, { stall: true });
  try {
    const t0 = Date.now();
    const st = await cli(['status', '-i', l.paths.inventory, '--json'], runs);
    assert.ok(Date.now() - t0 < 5000, 'no connection attempted');
    const state = Object.fromEntries(st.json.robots.map((x: { host: string; state: string }) => [x.host, x.state]));
    assert.deepEqual(state, { 'o-01': 'compliant', 'o-02': 'noncompliant', 'o-03': 'noncompliant', multi: 'compliant', dead: 'never-seen', gone: 'never-seen' });
    assert.equal(st.code, 2);
  } finally {
    for (const r of l.robots) await labLink(l, r.name, { stall: false });
  }
  // lab status speaks the tool's language: robots unreachable is exit 4.
  const st = await cli(['lab', 'status', '--name', 'toper']);
  assert.equal(st.code, 4, st.stdout);
  assert.match(st.stdout, /4\/6 reachable/);
});

test('two runs at once: a change meeting another run\'s lock fails (locked, the holder named), or waits with --wait-lock; a reboot lets go when it verified', opts, async () => {
  const l = lab();
  const LOCKF = '/run/fleetmasq.lock';
  // Another controller's run holds o-01 (a live lock, as fleetmasq writes it).
  await sshOut(l, 'o-01', `echo "other $(( $(date +%s) + 600 )) someone@elsewhere (apply, since 2026-11-26T10:00:00Z)" > ${LOCKF}`);
  const meets = await cli(['remove', '-i', l.paths.inventory, '-l', 'o-01', '--json']);
  assert.equal(meets.code, 2);
  assert.equal(meets.json.hosts['o-01'].error.kind, 'locked');
  assert.match(meets.json.hosts['o-01'].error.message, /^locked by someone@elsewhere \(apply, since 2026-11-26T10:00:00Z\): another run is changing this robot/);
  assert.deepEqual(await natRules('o-01'), ['-A POSTROUTING -o wlan0 -j MASQUERADE'], 'nothing was changed');
  // --wait-lock: the other run lets go after a few seconds; this one then goes through.
  const waits = cli(['remove', '-i', l.paths.inventory, '-l', 'o-01', '--json', '--wait-lock', '60s']);
  await new Promise((r) => setTimeout(r, 4000));
  await sshOut(l, 'o-01', `rm -f ${LOCKF}`);
  const w = await waits;
  assert.equal(w.json.hosts['o-01'].error, null, JSON.stringify(w.json.hosts['o-01'].error));
  assert.deepEqual(await natRules('o-01'), []);
  // A reboot takes the lock before it starts; the boot clears it (it is in /run).
  assert.equal((await cli(['apply', '-i', l.paths.inventory, '-l', 'o-01'])).code, 0);
  const rb = await cli(['reboot', '-i', l.paths.inventory, '-l', 'o-01', '--json']);
  assert.equal(rb.json.hosts['o-01'].compliant, true, JSON.stringify(rb.json.hosts['o-01']));
  assert.equal((await sshOut(l, 'o-01', `test -e ${LOCKF} && echo held || echo free`)).trim(), 'free');
});

test('a robot whose iptables prints an error: the operator reads the exact message with -vv during the run, and from the run record afterwards', opts, async () => {
  const l = lab();
  const MSG = 'iptables v1.8.9 (nf_tables): RULE_APPEND failed (No such file or directory): rule in chain POSTROUTING';
  // The robot's iptables refuses to add a rule (everything else passes through to the real one).
  await sshOut(l, 'o-03', `printf '%s\\n' '#!/bin/sh' 'for a in "$@"; do case "$a" in -A|-I) echo "${MSG}" >&2; exit 4;; esac; done' 'exec /usr/sbin/iptables "$@"' > /usr/local/sbin/iptables && chmod 755 /usr/local/sbin/iptables`);
  try {
    const d = mkdtempSync(join(tmpdir(), 'fmo-'));
    const r = await cli(['apply', '-i', l.paths.inventory, '-l', 'o-03', '-vv', '--json'], { FLEETMASQ_STORE: join(d, 'fm.db') });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assertRunDocument(r.json, 'apply on a robot whose iptables fails');
    assert.equal(r.json.hosts['o-03'].error.kind, 'command');
    // During the run, -vv shows the robot's own words.
    assert.ok(r.stderr.split('\n').some((x) => x.startsWith('[o-03]') && x.includes(MSG)), r.stderr.slice(-3000));
    assert.match(r.stderr, /\[o-03\] -vv script sent \(\d+ bytes\):/);
    assert.match(r.stderr, /\[o-03\] -v command exited [1-9]\d* after \d+ ms/);
    // Afterwards, the run record has them, without contacting the robot.
    const { recordedResults } = await import('../helpers/store.js');
    const line = (await recordedResults(r.json.record, { ...process.env, FLEETMASQ_STORE: join(d, 'fm.db') })).find((x) => x.host === 'o-03') as any;
    assert.ok(line.raw.stderr.includes(MSG), JSON.stringify(line.raw));
    assert.notEqual(line.raw.exitCode, 0);
    assert.equal(r.json.hosts['o-03'].raw.stderr, line.raw.stderr, 'the --json document carries the same');
  } finally {
    await sshOut(l, 'o-03', 'rm -f /usr/local/sbin/iptables');
  }
});
