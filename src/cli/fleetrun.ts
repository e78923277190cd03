/**
 * The one scaffold around a run over robots (the fleet commands, `play`, `diagnose`): the run record,
 * Ctrl-C, the connection pool, the progress view, and their cleanup however the run ends. What a command
 * does inside it (its task, its outputs, its exit code) stays the command's.
 */
import { ConnectionPool } from '../runner/runner.js';
import type { RunRecorder } from '../store/store.js';
import type { RunHeader } from '../records/audit.js';
import { verbosity, type FlagValues } from './commands.js';
import type { FleetSetup } from './fleet.js';
import type { SshTarget } from '../transport/target.js';
import { setMaxListeners } from 'node:events';
import type { Out } from './output.js';
import { plainProgress, type Progress } from './progress.js';
import { openRunRecord } from './record.js';

/** What the run itself gets: the pool, the two Ctrl-C signals, the record, and the progress view in use. */
export interface FleetRunScope {
  pool: ConnectionPool;
  /** First Ctrl-C: no new robot or connection attempt. */
  signal: AbortSignal;
  /** Second Ctrl-C: robots in flight are abandoned. */
  abandon: AbortSignal;
  rec: RunRecorder;
  /**
   * The progress view in use, set by the run (a playbook has one per play): Ctrl-C notices and -v lines
   * go there. Until then, plain quiet lines (a notice, -v) on stderr.
   */
  progress: Progress;
}

export interface FleetRunSpec {
  command: string;
  header: RunHeader;
  dryRun: boolean;
  /** --keep: how many runs the store keeps. */
  keep?: string;
}

/** Where the run's record went, or why it could not be written. */
export type StoredRecord = { where: string; error?: string };

/**
 * Opens the run's record, takes Ctrl-C, opens the pool and says which local commands a dry run still
 * runs; `run` does the work; then the progress view stops and the record is closed (its failure said,
 * and exit 1 if nothing worse) before `report` prints the outputs and chooses the exit code. The Ctrl-C
 * handler, the record and every connection are let go whatever happens.
 */
export async function withFleetRun<R>(
  setup: FleetSetup,
  spec: FleetRunSpec,
  values: FlagValues,
  io: Out,
  run: (scope: FleetRunScope) => Promise<R>,
  report: (result: R, stored: StoredRecord, interrupted: boolean) => Promise<number>,
): Promise<number> {
  const record = await openRunRecord(spec.command, spec.header, spec.dryRun, spec.keep);
  const scope = { progress: plainProgress(io, { quiet: true, verbosity: verbosity(values), checkMode: Boolean(values.check) }) } as FleetRunScope;
  const { signal, abandon, dispose } = interruptSignal((m, h) => scope.progress.notice(m, h));
  const pool = new ConnectionPool(setup.inventory, setup.transport, (host, msg) => io.err(`[${host}] warning: ${msg}`), signal);
  try {
    Object.assign(scope, { pool, signal, abandon, rec: record.rec });
    traceTo(pool, values, () => scope.progress);
    announceLocalCommands(io, pool.prepare(setup.hosts), values);
    const result = await run(scope);
    await scope.progress.stop();
    const stored = await record.close();
    if (stored.error) io.err(`error: ${stored.error}`);
    const code = await report(result, stored, signal.aborted);
    return code === 0 && stored.error ? 1 : code;
  } finally {
    dispose();
    await record.close();
    await pool.closeAll();
  }
}

/**
 * A dry run changes nothing on robots, but the ProxyCommands that reach them still run here, on this
 * machine: said before the run, never silently.
 */
export function announceLocalCommands(io: Out, targets: SshTarget[], values: FlagValues): void {
  if (!values.check) return;
  const cmds = new Set(targets.flatMap((t) => (t.proxyCommand ? [t.proxyCommand] : [])));
  if (!cmds.size) return;
  const users = targets.filter((t) => t.proxyCommand).length;
  io.err(`note: dry run, yet ${users} robot(s) are reached through a ProxyCommand that runs on this machine (${cmds.size} distinct), e.g.: ${[...cmds][0]}`);
}

/**
 * -v…-vvv: the pool's verbose output (connections and commands, secrets already redacted) goes to the
 * progress view in use (`current`: a playbook has one per play).
 */
export function traceTo(pool: ConnectionPool, values: FlagValues, current: () => Progress): void {
  const v = verbosity(values);
  if (!v) return;
  pool.trace = (host, level, text) => {
    if (level <= v) current().onEvent({ type: 'debug', host, level, text });
  };
}

/**
 * Ctrl-C (or SIGTERM): stop scheduling and let robots in flight finish their step. A second one
 * abandons the robots still in flight (they are reported as interrupted), and the run still ends with
 * its recap, its run record and exit 130.
 */
export function interruptSignal(notify: (text: string, hint?: string) => void): { signal: AbortSignal; abandon: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const hard = new AbortController();
  const onInt = () => {
    if (ac.signal.aborted) {
      if (!hard.signal.aborted) notify('interrupted again: abandoning the robots in flight; writing the recap');
      hard.abort();
      return;
    }
    ac.abort();
    notify('interrupted: letting robots in flight finish their step', 'Ctrl-C again to abandon them');
  };
  // Every robot in flight listens for the interrupt: as many listeners as --forks, none leaked.
  setMaxListeners(Infinity, ac.signal, hard.signal);
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  return { signal: ac.signal, abandon: hard.signal, dispose: () => (process.off('SIGINT', onInt), process.off('SIGTERM', onInt)) };
}
