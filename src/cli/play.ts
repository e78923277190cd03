import { loadPlaybook } from '../playbook/playbook.js';
import { combineResults, runPlaybook } from '../playbook/run.js';
import { parseSerial } from '../runner/batches.js';
import { ConnectionPool } from '../runner/runner.js';
import type { FlagValues } from './commands.js';
import { announceLocalCommands, announceRun, finishOutput, fleetSetup, interruptSignal, lockFor, makeProgress, robots, runInfo, traceTo } from './fleet.js';
import type { Out } from './output.js';
import { openRunRecord } from './record.js';

export async function playCommand(playbook: string, values: FlagValues, io: Out, argv: string[] = []): Promise<number> {
  const plays = loadPlaybook(playbook);
  const setup = fleetSetup(values);
  const header = announceRun(setup, argv, io);
  setup.taskOptions.audit = { by: header.who, command: 'play' };
  setup.taskOptions.lock = lockFor(header, 'play', values);
  const startedAt = new Date();
  const record = await openRunRecord('play', header, Boolean(values.check), values.keep);
  let progress = await makeProgress(io, [], '', { ...values, quiet: true });
  const { signal, abandon, dispose } = interruptSignal((m, h) => progress.notice(m, h));
  const pool = new ConnectionPool(setup.inventory, setup.transport, (host, msg) => io.err(`[${host}] warning: ${msg}`), signal);
  traceTo(pool, values, () => progress);
  try {
    announceLocalCommands(io, pool.prepare(setup.hosts), values);
    const results = await runPlaybook(plays, {
      inventory: setup.inventory,
      pool,
      limit: values.limit,
      forks: setup.forks,
      base: setup.taskOptions,
      rebootTimeoutMs: setup.rebootTimeoutMs,
      signal,
      abandon,
      serial: setup.serialSpec ? parseSerial(setup.serialSpec) : undefined,
      record: record.rec,
      maxFailPercent: setup.maxFailPercent,
      onPlay: async (play, hosts) => {
        await progress.stop();
        if (!values.quiet && !values.json) io.err(`PLAY [${play.name}] on ${robots(hosts.length)}: ${play.tasks.map((t) => t.name).join(' → ')}`);
        progress = await makeProgress(io, hosts, play.name, values);
      },
      onEvent: (e) => progress.onEvent(e),
    });
    await progress.stop();
    const combined = combineResults(results.plays);
    const stored = await record.close();
    if (stored.error) io.err(`error: ${stored.error}`);
    const info = runInfo('play', values, startedAt, { inventory: setup.sources.label, playbook, stopped: results.stopped, record: stored.where });
    const code = await finishOutput(io, values, combined, info, signal.aborted);
    return code === 0 && stored.error ? 1 : code;
  } finally {
    dispose();
    await record.close();
    await pool.closeAll();
  }
}
