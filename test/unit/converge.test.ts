/** --until-converged (issue 12): Ctrl-C during the wait between rounds ends the run at once, as interrupted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostError } from '../../src/errors.js';
import { runUntilConverged, type ConnectionPool, type HostTask } from '../../src/runner/runner.js';
import { hostListInventory } from '../../src/inventory/inventory.js';

test('Ctrl-C while waiting for unreachable robots: the wait ends at once, robots keep their last result, the run is interrupted', async () => {
  const inv = hostListInventory('up,down,', [{ name: 'up' }, { name: 'down' }]);
  const pool = { drop: () => {} } as unknown as ConnectionPool;
  let attempts = 0;
  const task: HostTask = async (ctx) => {
    if (ctx.host === 'down') {
      attempts++;
      throw new HostError('unreachable', 'no SSH answer');
    }
    return { status: 'ok', changes: [], reasons: [], warnings: [], diffs: [], details: {} };
  };
  const ctl = new AbortController();
  const events: string[] = [];
  const t0 = Date.now();
  const done = runUntilConverged(
    task,
    {
      command: 'check',
      hosts: ['up', 'down'],
      inventory: inv,
      pool,
      forks: 5,
      serial: [],
      signal: ctl.signal,
      onEvent: (e) => {
        events.push(e.type);
        // The first wait (5 s) is interrupted half a second in.
        if (e.type === 'waiting') setTimeout(() => ctl.abort(), 500);
      },
    },
    Date.now() + 3_600_000,
  );
  const run = await done;
  assert.ok(Date.now() - t0 < 3000, `ended within the wait, not after it (${Date.now() - t0} ms)`);
  assert.equal(attempts, 1, 'no further round after Ctrl-C');
  assert.deepEqual(run.stopped, { kind: 'interrupted' });
  assert.equal(run.results.get('up')!.status, 'ok');
  assert.equal(run.results.get('down')!.status, 'unreachable');
  assert.ok(events.includes('waiting'));
});

test('each --until-converged round after the first says it is the same run trying again, not a new batch 1/1', async () => {
  const { plainProgress } = await import('../../src/cli/progress.js');
  const inv = hostListInventory('up,down,', [{ name: 'up' }, { name: 'down' }]);
  const pool = { drop: () => {} } as unknown as ConnectionPool;
  const task: HostTask = async (ctx) => {
    if (ctx.host === 'down') throw new HostError('unreachable', 'no SSH answer');
    return { status: 'ok', changes: [], reasons: [], warnings: [], diffs: [], details: {} };
  };
  const lines: string[] = [];
  const progress = plainProgress({ out: () => {}, err: (s) => lines.push(s), isTTY: false });
  await runUntilConverged(
    task,
    { command: 'check', hosts: ['up', 'down'], inventory: inv, pool, forks: 5, serial: [], signal: new AbortController().signal, onEvent: progress.onEvent },
    Date.now() + 300,
  );
  assert.deepEqual(lines.filter((l) => l.startsWith('== ') && !l.includes('waiting')), ['== batch 1/1: 2 robot(s)', '== round 2: trying 1 unreachable robot(s) again']);
});

test("a failed robot's result keeps what it said (raw: stdout, stderr, facts, exit code), sanitised and bounded to 64 KiB each; the record has it too", async () => {
  const { runFleet } = await import('../../src/runner/runner.js');
  const inv = hostListInventory('cmd,facts,fine,', [{ name: 'cmd' }, { name: 'facts' }, { name: 'fine' }]);
  const pool = { drop: () => {} } as unknown as ConnectionPool;
  const big = 'x'.repeat(100 * 1024) + '\nLAST LINE';
  const task: HostTask = async (ctx) => {
    if (ctx.host === 'cmd') throw new HostError('command', "step 'rule' failed (exit 4)", { exitCode: 4, stdout: big, stderr: 'iptables v1.8.9: \x1b[31mno chain\x1b[0m\n' });
    if (ctx.host === 'facts') throw new HostError('command', 'gathering facts failed', { facts: '@v=1\n\x07garbage', stderr: '' });
    return { status: 'ok', changes: [], reasons: [], warnings: [], diffs: [], details: {} };
  };
  const { Store } = await import('../../src/store/store.js');
  const store = await Store.open({ ...process.env, FLEETMASQ_STORE: join(mkdtempSync(join(tmpdir(), 'fmraw-')), 'fm.db') });
  const rec = await store.startRun({ command: 'apply', header: { who: 'test@here', argv: [], startedAt: new Date().toISOString(), inventory: 'inv.yml', version: 'test' }, dryRun: false });
  const run = await runFleet(task, { command: 'apply', hosts: ['cmd', 'facts', 'fine'], inventory: inv, pool, forks: 5, serial: [], signal: new AbortController().signal, record: rec, onEvent: () => {} });
  await rec.finish();
  const cmd = run.results.get('cmd')!;
  assert.equal(cmd.raw?.exitCode, 4);
  assert.equal(cmd.raw?.stderr, 'iptables v1.8.9: \\u001b[31mno chain\\u001b[0m\n');
  assert.ok(Buffer.byteLength(cmd.raw!.stdout!) <= 64 * 1024 + 100, 'bounded');
  assert.match(cmd.raw!.stdout!, /^\[first \d+ bytes not kept\]\n/);
  assert.match(cmd.raw!.stdout!, /LAST LINE$/, 'the end, where a failure says why, is kept');
  assert.deepEqual(run.results.get('facts')!.raw, { facts: '@v=1\n\\u0007garbage' });
  assert.equal(run.results.get('fine')!.raw, undefined, 'nothing kept for a robot that went well');
  // The record (the store) keeps it as the runner emitted it.
  const stored = await store.runResults(rec.id);
  await store.close();
  assert.deepEqual(stored.find((l) => l.host === 'cmd')!.raw, cmd.raw);
});
