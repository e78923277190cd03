/** Reads what a run recorded, from the store its recap names ("<store> run <id>"). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import type { HostResult } from '../../src/runner/types.js';

export function recordOf(where: string): { location: string; runId: string } {
  const m = /^(.*) run (\S+)$/.exec(where.trim());
  if (!m) throw new Error(`not a run record: '${where}'`);
  return { location: m[1]!, runId: m[2]! };
}

/** Every result the run recorded, in the order they came (every attempt of a converging run). */
export async function recordedResults(where: string, env: NodeJS.ProcessEnv = process.env): Promise<HostResult[]> {
  const { location, runId } = recordOf(where);
  const store = await Store.open({ ...env, FLEETMASQ_STORE: location.startsWith('postgres') ? env.FLEETMASQ_STORE : location });
  try {
    return await store.runResults(runId);
  } finally {
    await store.close();
  }
}

function runWriter(env: NodeJS.ProcessEnv, name: string, runs: number, hosts: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join('dist', 'test', 'helpers', 'store-writer.js'), name, String(runs), String(hosts)], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code) => resolve(code ?? 1));
  });
}

/** Two controllers (two processes, 50 runs each) at once on one store: nothing lost or torn. */
export async function twoControllers(env: NodeJS.ProcessEnv): Promise<void> {
  const codes = await Promise.all([runWriter(env, 'ctl-1', 50, 5), runWriter(env, 'ctl-2', 50, 5)]);
  assert.deepEqual(codes, [0, 0]);
  const store = await Store.open(env, { importJsonl: false });
  try {
    const rows = await store.db.all(`SELECT u.controller, COUNT(*) AS n FROM results r JOIN runs u ON u.id = r.run_id WHERE u.controller IN ('ctl-1', 'ctl-2') GROUP BY u.controller ORDER BY u.controller`);
    assert.deepEqual(rows.map((x) => [x.controller, Number(x.n)]), [['ctl-1', 250], ['ctl-2', 250]]);
    const runs = await store.db.all(`SELECT asked, compliant FROM runs WHERE controller IN ('ctl-1', 'ctl-2')`);
    assert.equal(runs.length, 100);
    assert.ok(runs.every((x) => Number(x.asked) === 5 && Number(x.compliant) === 5), 'every run summary whole');
    for (const b of await store.db.all(`SELECT body FROM results r JOIN runs u ON u.id = r.run_id WHERE u.controller IN ('ctl-1', 'ctl-2')`)) JSON.parse(String(b.body));
  } finally {
    await store.close();
  }
}

