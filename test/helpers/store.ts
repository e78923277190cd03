/** Reads what a run recorded, from the store its recap names ("<store> run <id>"). */
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
