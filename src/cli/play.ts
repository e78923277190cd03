import { ConfigError, EXIT } from '../errors.js';
import { loadPlaybook } from '../playbook/playbook.js';
import { combineResults, runPlaybook } from '../playbook/run.js';
import { parseSerial } from '../runner/batches.js';
import { ConnectionPool } from '../runner/runner.js';
import { COMMON_FLAGS, FLEET_HELP, finishOutput, fleetSetup, interruptSignal, makeProgress, type FlagValues } from './fleet.js';
import { parse } from './args.js';
import type { Out } from './output.js';

export const PLAY_HELP = `fleetmasq play PLAYBOOK -i INVENTORY [options]
  Run an Ansible-style playbook of fleetmasq modules: masquerade, persist, reboot, verify, check, remove.
  --serial / --max-fail-percent given on the command line override every play's.
`;

export async function playCommand(argv: string[], io: Out): Promise<number> {
  const { values, positionals } = parse(argv, COMMON_FLAGS, true);
  if (values.help) {
    io.out(PLAY_HELP + FLEET_HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw new ConfigError('play takes one playbook file');
  const plays = loadPlaybook(positionals[0]!);
  const setup = fleetSetup(values as FlagValues);
  for (const w of setup.inventory.warnings) io.err(`warning: ${w}`);
  const startedAt = new Date();
  const pool = new ConnectionPool(setup.inventory, setup.transport, (host, msg) => io.err(`[${host}] warning: ${msg}`));
  const { signal, dispose } = interruptSignal();
  try {
    let progress = await makeProgress(io, [], '', true);
    const results = await runPlaybook(plays, {
      inventory: setup.inventory,
      pool,
      limit: values.limit,
      forks: setup.forks,
      base: setup.taskOptions,
      rebootTimeoutMs: setup.rebootTimeoutMs,
      signal,
      serial: setup.serialSpec ? parseSerial(setup.serialSpec) : undefined,
      maxFailPercent: setup.maxFailPercent,
      onPlay: async (play, hosts) => {
        await progress.stop();
        io.err(`PLAY [${play.name}] on ${hosts.length} robot(s): ${play.tasks.map((t) => t.name).join(' → ')}`);
        progress = await makeProgress(io, hosts, play.name, Boolean(values.json));
      },
      onEvent: (e) => progress.onEvent(e),
    });
    await progress.stop();
    const combined = combineResults(results);
    const aborted = results.find((r) => r.aborted)?.aborted;
    return finishOutput(io, values as FlagValues, 'play', combined, startedAt, aborted, results.map((r) => r.record).join(', '), signal.aborted);
  } finally {
    dispose();
    await pool.closeAll();
  }
}
