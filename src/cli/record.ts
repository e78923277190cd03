/**
 * A fleet command's run record: the store is opened (and its folder's owner checked) before any robot
 * is contacted, old runs beyond the retention go, and every result is written as it comes.
 */
import { ConfigError } from '../errors.js';
import type { RunHeader } from '../records/audit.js';
import { DEFAULT_KEEP, Store, type Retention, type RunRecorder } from '../store/store.js';
import { parseDuration } from '../util/duration.js';

/** Retention: --keep D (else FLEETMASQ_KEEP) for age, FLEETMASQ_KEEP_RUNS for count. */
export function retention(keepFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): Retention {
  const age = keepFlag ?? env.FLEETMASQ_KEEP;
  const runs = env.FLEETMASQ_KEEP_RUNS;
  if (runs !== undefined && !/^[1-9][0-9]{0,8}$/.test(runs.trim())) throw new ConfigError(`FLEETMASQ_KEEP_RUNS must be a whole number of runs (got '${runs}')`);
  return {
    maxAgeMs: age === undefined ? DEFAULT_KEEP.maxAgeMs : parseDuration(age, keepFlag !== undefined ? '--keep' : 'FLEETMASQ_KEEP'),
    maxRuns: runs === undefined ? DEFAULT_KEEP.maxRuns : Number(runs),
  };
}

export interface OpenRun {
  rec: RunRecorder;
  /** Waits for every write, closes the store; the record's place, or a warning when a write failed. */
  close(): Promise<{ where: string; error?: string }>;
}

export async function openRunRecord(command: string, header: RunHeader, dryRun: boolean, keepFlag?: string): Promise<OpenRun> {
  const keep = retention(keepFlag);
  const store = await Store.open();
  try {
    await store.prune(keep);
    const rec = await store.startRun({ command, header, dryRun });
    let closing: Promise<{ where: string; error?: string }> | undefined;
    const close = async () => {
      try {
        await rec.finish();
        return { where: rec.where };
      } catch (e) {
        return { where: rec.where, error: (e as Error).message };
      } finally {
        await store.close();
      }
    };
    return { rec, close: () => (closing ??= close()) };
  } catch (e) {
    await store.close();
    throw e;
  }
}
