/**
 * Issue 23: the fleet view is as true as one robot's answer. On real robots: check → apply → status
 * compliant; remove → status removed (not compliant); a robot taken offline keeps its last state with
 * its age; reboot → status shows the new boot id; --host shows the robot's history.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labLink } from '../../lab/lab.js';
import { cli } from '../helpers/cli.js';
import { bootId, canRunLab, specFile, useLab } from '../helpers/lab.js';

const { lab } = canRunLab ? useLab(specFile('test/fixtures/status-fleet.yml', 'tstat')) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 300_000 };

test('status follows the newest evidence of every command: check, apply, remove, offline, reboot', opts, async () => {
  const l = lab();
  const inv = l.paths.inventory;
  const env = { FLEETMASQ_STORE: join(mkdtempSync(join(tmpdir(), 'fmlst-')), 'fleet.db') };
  const state = async () => {
    const s = await cli(['status', '-i', inv, '--json'], env);
    return { code: s.code, by: Object.fromEntries(s.json.robots.map((r: { host: string }) => [r.host, r])) as Record<string, any> };
  };
  assert.equal((await cli(['check', '-i', inv], env)).code, 2, 'nothing applied yet');
  let s = await state();
  assert.equal(s.by['s-01'].state, 'noncompliant');
  assert.equal(s.code, 2);
  assert.equal((await cli(['apply', '-i', inv], env)).code, 0);
  s = await state();
  assert.equal(s.by['s-01'].state, 'compliant', 'apply verified it in its own round trip');
  assert.equal(s.by['s-01'].evidence.command, 'apply');
  assert.equal(s.code, 0);
  // remove on s-02: removed, not compliant, exit 2.
  assert.equal((await cli(['remove', '-i', inv, '-l', 's-02'], env)).code, 0);
  s = await state();
  assert.equal(s.by['s-02'].state, 'removed');
  assert.equal(s.by['s-01'].state, 'compliant');
  assert.equal(s.code, 2);
  // s-01 goes offline: a check cannot reach it; its last known state stays, with its age.
  await labLink(l, 's-01', { stall: true });
  try {
    const c = await cli(['check', '-i', inv, '-l', 's-01', '--connect-timeout', '3', '--connect-retries', '0'], env);
    assert.equal(c.code, 4);
    s = await state();
    assert.equal(s.by['s-01'].state, 'compliant');
    assert.equal(s.by['s-01'].lastResult.status, 'unreachable');
    const text = await cli(['status', '-i', inv], env);
    assert.match(text.stdout, /s-01 +compliant +apply \d+s ago/);
  } finally {
    await labLink(l, 's-01', { stall: false });
  }
  // reboot: the new boot id is what status shows.
  const before = await bootId(l, 's-01');
  const rb = await cli(['reboot', '-i', inv, '-l', 's-01', '--json'], env);
  assert.equal(rb.json.hosts['s-01'].compliant, true, JSON.stringify(rb.json.hosts['s-01']));
  const after = await bootId(l, 's-01');
  assert.notEqual(after, before);
  s = await state();
  assert.equal(s.by['s-01'].bootId, after);
  assert.equal(s.by['s-01'].evidence.command, 'reboot');
  // The robot's history from the controller's side, newest first.
  const h = await cli(['status', '--host', 's-01', '--json'], env);
  assert.deepEqual(h.json.history.map((e: { command: string }) => e.command), ['reboot', 'check', 'apply', 'check']);
  assert.equal(h.json.history[0].bootId, after);
});
