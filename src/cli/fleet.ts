/**
 * apply / check / remove / reboot / verify: turn flags into a setup, load and validate everything
 * before any robot is contacted, run, print progress and the recap (or one JSON document), return the
 * exit code.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Inventory } from '../inventory/inventory.js';
import { loadSources } from '../inventory/sources.js';
import { connectionFlags, runSources, type RunSources } from './sources.js';
import { selectHosts } from '../inventory/patterns.js';
import { inShard, parseShard } from '../inventory/shard.js';
import { PERSISTENCE_MODES } from '../inventory/vars.js';
import { specError } from '../modules/rule.js';
import { parseSerial } from '../runner/batches.js';
import { runFleet, runUntilConverged, type HostTask } from '../runner/runner.js';
import { applyTask } from '../tasks/apply.js';
import { checkTask } from '../tasks/check.js';
import { rebootTask } from '../tasks/reboot.js';
import { removeTask } from '../tasks/remove.js';
import type { TaskOptions } from '../tasks/session.js';
import { retryHosts, type HostResult } from '../runner/types.js';
import type { HostKeyChecking, TransportOptions } from '../transport/target.js';
import { recapText } from '../report/recap.js';
import { exitCode, robotsText as robots, runDocument, summarize, type RunInfo } from '../report/summary.js';
import { checkWritable, intFlag } from './args.js';
import { parseDuration } from '../util/duration.js';
import { randomBytes } from 'node:crypto';
import { withFleetRun } from './fleetrun.js';
import { ensurePrivateDir } from '../store/localdir.js';
import { runHeader, type RunHeader } from '../records/audit.js';
import { version } from './version.js';
import { verbosity, type CommandOptions, type FlagValues } from './commands.js';
export { robots };
import { plainProgress, type Progress } from './progress.js';
import { askSecret } from './prompt.js';
import type { Out } from './output.js';

export interface FleetSetup {
  inventory: Inventory;
  /** Where the inventory came from (flags, environment, ansible.cfg) and Ansible's defaults. */
  sources: RunSources;
  hosts: string[];
  transport: TransportOptions;
  taskOptions: TaskOptions;
  forks: number;
  serialSpec?: string;
  maxFailPercent?: number;
  rebootTimeoutMs?: number;
  /** --until-converged --deadline: how long unreachable robots are tried again. */
  convergeMs?: number;
}

export function fleetSetup(values: FlagValues, hostsPattern = 'all'): FleetSetup {
  const sources = runSources(values);
  const cfg = sources.settings;
  if (values.limit !== undefined && !values.limit.trim()) throw new ConfigError("--limit '' selects nothing: give a pattern ('all' for every robot)");
  const hkc = values['host-key-checking'];
  if (hkc !== undefined && !['strict', 'accept-new', 'off'].includes(hkc)) throw new ConfigError(`--host-key-checking must be strict, accept-new or off (got '${hkc}')`);
  const ifaceBad = values.interface !== undefined && values.interface !== 'auto' ? specError(values.interface) : undefined;
  if (ifaceBad) throw new ConfigError(`--interface: ${ifaceBad}`);
  if (values.persistence !== undefined && !(PERSISTENCE_MODES as readonly string[]).includes(values.persistence))
    throw new ConfigError(`--persistence must be ${PERSISTENCE_MODES.join(', ')} (got '${values.persistence}')`);
  if (values.serial !== undefined && !values.serial.trim()) throw new ConfigError("--serial '' is empty: give N, N% or a list like 1,25%");
  if (values.serial !== undefined) parseSerial(values.serial);
  const maxFail = values['max-fail-percent'] === undefined ? undefined : Number(values['max-fail-percent']);
  if (maxFail !== undefined && !(maxFail >= 0 && maxFail <= 100)) throw new ConfigError('--max-fail-percent must be from 0 to 100');
  const commandTimeout = intFlag(values['command-timeout'], 'command-timeout', 1, 86400);
  const connectTimeoutS = intFlag(values['connect-timeout'], 'connect-timeout', 1, 3600) ?? (cfg.timeout.origin !== 'default' ? cfg.timeout.value : undefined);
  const connectRetries = intFlag(values['connect-retries'], 'connect-retries', 0, 100);
  // fleetmasq's own default (50) unless the environment or ansible.cfg sets forks.
  const forks = intFlag(values.forks, 'forks', 1, 10000) ?? (cfg.forks.origin !== 'default' ? cfg.forks.value : 50);
  const rebootTimeout = intFlag(values['reboot-timeout'], 'reboot-timeout', 1, 86400);
  if (values.deadline !== undefined && !values['until-converged']) throw new ConfigError('--deadline goes with --until-converged');
  if (values['until-converged'] && values.deadline === undefined) throw new ConfigError('--until-converged needs --deadline D (how long to keep trying: 90s, 30m, 72h)');
  const convergeMs = values.deadline === undefined ? undefined : parseDuration(values.deadline, '--deadline');
  for (const [flag, file] of [['junit', values.junit], ['html', values.html], ['prom', values.prom]] as const) if (file !== undefined) checkWritable(flag, file);
  const inventory = loadSources(sources.sources, sources);
  const selected = selectHosts(inventory, hostsPattern, values.limit);
  // --shard: this runner's share; an empty share is no error (a small fleet over many runners).
  const hosts = values.shard === undefined ? selected : inShard(selected, parseShard(values.shard));
  let becomePassword = process.env.FLEETMASQ_BECOME_PASSWORD;
  if (values['ask-become-pass']) becomePassword = askSecret('BECOME password: ');
  return {
    inventory,
    sources,
    hosts,
    transport: {
      sshConfigFile: values['ssh-config'],
      knownHostsFile: values['known-hosts'],
      // ansible.cfg's host_key_checking = False is Ansible's "do not check": said in `fleetmasq config`.
      hostKeyChecking: (hkc as HostKeyChecking | undefined) ?? (cfg.hostKeyChecking.value ? undefined : 'off'),
      ...(cfg.remoteUser ? { defaultUser: cfg.remoteUser.value } : {}),
      ...(cfg.privateKeyFile ? { defaultIdentityFile: cfg.privateKeyFile.value } : {}),
      // -u / --private-key over ansible.cfg and the environment, as in Ansible.
      ...connectionFlags(values),
      connectTimeoutS,
      connectRetries,
      becomePassword,
    },
    taskOptions: {
      interface: values.interface,
      allowAbsentInterface: values['allow-absent-interface'],
      persistence: values.persistence as TaskOptions['persistence'],
      checkMode: values.check,
      force: values.force,
      commandTimeoutMs: commandTimeout ? commandTimeout * 1000 : undefined,
    },
    forks,
    serialSpec: values.serial,
    maxFailPercent: maxFail,
    rebootTimeoutMs: rebootTimeout === undefined ? undefined : rebootTimeout * 1000,
    convergeMs,
  };
}

/** The robots' lock for this run: its id, who holds it (user@controller, command, since), how long to wait for another's. */
export function lockFor(header: RunHeader, command: string, values: FlagValues): TaskOptions['lock'] {
  return {
    runId: randomBytes(8).toString('hex'),
    holder: `${header.who} (${command}, since ${header.startedAt})`,
    waitMs: values['wait-lock'] === undefined ? undefined : parseDuration(values['wait-lock'], '--wait-lock'),
  };
}



export async function makeProgress(io: Out, hosts: string[], title: string, values: FlagValues): Promise<Progress> {
  const opts = { verbosity: verbosity(values), checkMode: Boolean(values.check) };
  // listr2 is loaded only when a terminal will show it.
  if (io.isTTY && !values.json && !values.quiet && process.env.CI !== 'true' && process.env.TERM !== 'dumb')
    return (await import('./progress-tty.js')).ttyProgress(hosts, title, { ...opts, err: io.err });
  return plainProgress(io, { ...opts, quiet: Boolean(values.quiet) });
}



/** Report files are written where asked; a path that cannot be written is said plainly, after the recap. */
async function writeReports(values: FlagValues, results: HostResult[], info: RunInfo, io: Out, inventory?: Inventory): Promise<boolean> {
  let ok = true;
  const write = async (file: string | undefined, what: string, render: () => Promise<string>) => {
    if (!file) return;
    try {
      writeFileSync(file, await render());
    } catch (e) {
      ok = false;
      io.err(`error: could not write the ${what} report ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  await write(values.junit, 'JUnit', async () => (await import('../report/junit.js')).junitXml(results, info));
  await write(values.html, 'HTML', async () => (await import('../report/html.js')).htmlReport(results, info));
  if (values.prom) {
    try {
      const prom = await import('../report/prom.js');
      prom.writeAtomically(values.prom, await prom.promText(results, info, (h) => [...(inventory?.hosts.get(h)?.groups ?? [])]));
    } catch (e) {
      ok = false;
      io.err(`error: could not write the Prometheus metrics ${values.prom}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return ok;
}

export const RETRY_FILE = join('.fleetmasq', 'last.retry');

/**
 * The robots to run again (failed, unreachable, never started), one a line, for `--limit @FILE`;
 * empty when none are left. Written whole (temp file, rename): a reader never sees half a list.
 */
function writeRetryFile(results: HostResult[]): { file: string; hosts: string[] } {
  const hosts = retryHosts(results);
  // In fleetmasq's own private folder (checked as the store's), through a new file that cannot be a link.
  ensurePrivateDir(dirname(RETRY_FILE));
  const tmp = `${RETRY_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, hosts.map((h) => `${h}\n`).join(''), { flag: 'wx', mode: 0o600 });
  renameSync(tmp, RETRY_FILE);
  return { file: RETRY_FILE, hosts };
}

export async function finishOutput(io: Out, values: FlagValues, results: HostResult[], runInfoIn: RunInfo, interrupted: boolean, inventory?: Inventory): Promise<number> {
  const retry = writeRetryFile(results);
  const info: RunInfo = { ...runInfoIn, retry };
  if (values.json) io.out(JSON.stringify(runDocument(results, info), null, 2));
  // In a terminal, long DETAILS are broken between words (the terminal would break them mid-word).
  else io.out(recapText(results, info, { diff: values.diff, width: io.isTTY ? process.stdout.columns : undefined }));
  const reportsOk = await writeReports(values, results, info, io, inventory);
  const code = exitCode(summarize(results), { interrupted, stopped: Boolean(info.stopped) && !interrupted });
  return code === 0 && !reportsOk ? 1 : code;
}

const TASKS: Record<string, (s: FleetSetup) => HostTask> = {
  apply: (s) => applyTask(s.taskOptions),
  check: (s) => checkTask(s.taskOptions),
  verify: (s) => checkTask({ ...s.taskOptions, requireFired: true }),
  remove: (s) => removeTask(s.taskOptions),
  reboot: (s) => rebootTask({ ...s.taskOptions, rebootTimeoutMs: s.rebootTimeoutMs ?? 600_000 }),
};

export function runInfo(command: string, values: FlagValues, startedAt: Date, extra: Partial<RunInfo> = {}): RunInfo {
  return { command, checkMode: Boolean(values.check), inventory: (values.inventory ?? []).join(','), limit: values.limit, startedAt, ...extra };
}

/** A run's record header (who, what, which inventory), after saying what ansible.cfg and the inventory warn of. */
export function announceRun(setup: FleetSetup, argv: string[], io: Out): RunHeader {
  for (const w of [...setup.sources.settings.warnings, ...setup.inventory.warnings]) io.err(`warning: ${w}`);
  return runHeader(argv, setup.sources.sources, version());
}

/** The fleet commands: each runs its task on every selected robot. */
export type FleetCommandName = 'apply' | 'check' | 'verify' | 'remove' | 'reboot';

/**
 * A fleet command, typed: its options are the flags it declares (commands.ts). The CLI calls it with the
 * flags it parsed, the lab's demo with options of its own; argv is the command line the run's record keeps.
 */
export async function runFleetCommand<C extends FleetCommandName>(command: C, options: CommandOptions<C>, io: Out, argv: string[] = []): Promise<number> {
  const values: FlagValues = options;
  const setup = fleetSetup(values);
  const header = announceRun(setup, argv, io);
  setup.taskOptions.audit = { by: header.who, command };
  setup.taskOptions.lock = lockFor(header, command, values);
  const startedAt = new Date();
  return withFleetRun(
    setup,
    { command, header, dryRun: Boolean(values.check), keep: values.keep },
    values,
    io,
    async (scope) => {
      const progress = (scope.progress = await makeProgress(io, setup.hosts, `${command}${values.check ? ' (dry run)' : ''} on ${robots(setup.hosts.length)}`, values));
      const task = TASKS[command]!(setup);
      const { pool, signal, abandon, rec } = scope;
      const runOpts = { command, hosts: setup.hosts, inventory: setup.inventory, pool, forks: setup.forks, serial: parseSerial(setup.serialSpec), maxFailPercent: setup.maxFailPercent, signal, abandon, onEvent: progress.onEvent, record: rec };
      return setup.convergeMs === undefined ? runFleet(task, runOpts) : runUntilConverged(task, runOpts, Date.now() + setup.convergeMs);
    },
    (run, stored, interrupted) => {
      const results = setup.hosts.map((h) => run.results.get(h)!).filter(Boolean);
      return finishOutput(io, values, results, runInfo(command, values, startedAt, { inventory: setup.sources.label, stopped: run.aborted, record: stored.where }), interrupted, setup.inventory);
    },
  );
}
