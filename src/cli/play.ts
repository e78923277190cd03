import { loadPlaybook } from '../playbook/playbook.js';
import { combineResults, runPlaybook } from '../playbook/run.js';
import { parseSerial } from '../runner/batches.js';
import type { FlagValues } from './commands.js';
import { announceRun, finishOutput, fleetSetup, lockFor, makeProgress, robots, runInfo } from './fleet.js';
import { withFleetRun } from './fleetrun.js';
import type { Out } from './output.js';

export async function playCommand(playbook: string, values: FlagValues, io: Out, argv: string[] = []): Promise<number> {
  const plays = loadPlaybook(playbook);
  const setup = fleetSetup(values);
  const header = announceRun(setup, argv, io);
  setup.taskOptions.audit = { by: header.who, command: 'play' };
  setup.taskOptions.lock = lockFor(header, 'play', values);
  const startedAt = new Date();
  return withFleetRun(
    setup,
    { command: 'play', header, dryRun: Boolean(values.check), keep: values.keep },
    values,
    io,
    async (scope) =>
      runPlaybook(plays, {
        inventory: setup.inventory,
        pool: scope.pool,
        limit: values.limit,
        forks: setup.forks,
        base: setup.taskOptions,
        rebootTimeoutMs: setup.rebootTimeoutMs,
        signal: scope.signal,
        abandon: scope.abandon,
        serial: setup.serialSpec ? parseSerial(setup.serialSpec) : undefined,
        record: scope.rec,
        maxFailPercent: setup.maxFailPercent,
        onPlay: async (play, hosts) => {
          await scope.progress.stop();
          if (!values.quiet && !values.json) io.err(`PLAY [${play.name}] on ${robots(hosts.length)}: ${play.tasks.map((t) => t.name).join(' → ')}`);
          scope.progress = await makeProgress(io, hosts, play.name, values);
        },
        onEvent: (e) => scope.progress.onEvent(e),
      }),
    (results, stored, interrupted) => {
      const info = runInfo('play', values, startedAt, { inventory: setup.sources.label, playbook, stopped: results.stopped, record: stored.where });
      return finishOutput(io, values, combineResults(results.plays), info, interrupted);
    },
  );
}
