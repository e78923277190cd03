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
