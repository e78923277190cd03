/**
 * apply / check / remove / reboot / verify: parse flags, load and validate everything before any robot
 * is contacted, run, print progress and the recap (or one JSON document), return the exit code.
 */
import { writeFileSync } from 'node:fs';
import { ConfigError, EXIT } from '../errors.js';
import { loadInventory, type Inventory } from '../inventory/inventory.js';
import { selectHosts } from '../inventory/patterns.js';
import { IFACE_RE } from '../modules/rule.js';
import { parseSerial } from '../runner/batches.js';
import { ConnectionPool, runFleet, type HostTask } from '../runner/runner.js';
import { applyTask, checkTask, rebootTask, removeTask, type TaskOptions } from '../runner/tasks.js';
import type { HostResult } from '../runner/types.js';
import type { HostKeyChecking, TransportOptions } from '../transport/target.js';
import { recapText } from '../report/recap.js';
import { exitCode, runDocument, summarize } from '../report/summary.js';
import { intFlag, parse } from './args.js';
import { plainProgress, type Progress } from './progress.js';
import { askSecret } from './prompt.js';
import type { Out } from './output.js';
import { FLEET_HELP } from './help.js';
export { FLEET_HELP };

export const COMMON_FLAGS = {
  inventory: { type: 'string', short: 'i' },
  limit: { type: 'string', short: 'l' },
  forks: { type: 'string', short: 'f' },
  serial: { type: 'string' },
  'max-fail-percent': { type: 'string' },
  json: { type: 'boolean' },
  junit: { type: 'string' },
  html: { type: 'string' },
  'ssh-config': { type: 'string' },
  'known-hosts': { type: 'string' },
  'host-key-checking': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'command-timeout': { type: 'string' },
  'ask-become-pass': { type: 'boolean', short: 'K' },
  interface: { type: 'string' },
  persistence: { type: 'string' },
  check: { type: 'boolean', short: 'C' },
  diff: { type: 'boolean', short: 'D' },
  'reboot-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;


export type FlagValues = { [K in keyof typeof COMMON_FLAGS]?: (typeof COMMON_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

export interface FleetSetup {
  inventory: Inventory;
  hosts: string[];
  transport: TransportOptions;
  taskOptions: TaskOptions;
  forks: number;
  serialSpec?: string;
  maxFailPercent?: number;
  rebootTimeoutMs: number;
}

export function fleetSetup(values: FlagValues, hostsPattern = 'all'): FleetSetup {
  if (!values.inventory) throw new ConfigError('-i/--inventory FILE is required');
  const hkc = values['host-key-checking'];
  if (hkc !== undefined && !['strict', 'accept-new', 'off'].includes(hkc)) throw new ConfigError(`--host-key-checking must be strict, accept-new or off (got '${hkc}')`);
  if (values.interface !== undefined && values.interface !== 'auto' && !IFACE_RE.test(values.interface))
    throw new ConfigError(`--interface '${values.interface}' is not a valid interface name`);
  if (values.persistence !== undefined && !['systemd', 'rc.local', 'auto'].includes(values.persistence))
    throw new ConfigError(`--persistence must be systemd, rc.local or auto (got '${values.persistence}')`);
  if (values.serial !== undefined) parseSerial(values.serial);
  const maxFail = values['max-fail-percent'] === undefined ? undefined : Number(values['max-fail-percent']);
  if (maxFail !== undefined && !(maxFail >= 0 && maxFail <= 100)) throw new ConfigError('--max-fail-percent must be from 0 to 100');
  const inventory = loadInventory(values.inventory);
  const hosts = selectHosts(inventory, hostsPattern, values.limit);
  let becomePassword = process.env.FLEETMASQ_BECOME_PASSWORD;
  if (values['ask-become-pass']) becomePassword = askSecret('BECOME password: ');
  const commandTimeout = intFlag(values['command-timeout'], 'command-timeout', 1, 86400);
  return {
    inventory,
    hosts,
    transport: {
      sshConfigFile: values['ssh-config'],
      knownHostsFile: values['known-hosts'],
      hostKeyChecking: hkc as HostKeyChecking | undefined,
      connectTimeoutS: intFlag(values['connect-timeout'], 'connect-timeout', 1, 3600),
      becomePassword,
    },
    taskOptions: {
      interface: values.interface,
      persistence: values.persistence as TaskOptions['persistence'],
      checkMode: values.check,
      commandTimeoutMs: commandTimeout ? commandTimeout * 1000 : undefined,
    },
    forks: intFlag(values.forks, 'forks', 1, 10000) ?? 50,
    serialSpec: values.serial,
    maxFailPercent: maxFail,
    rebootTimeoutMs: (intFlag(values['reboot-timeout'], 'reboot-timeout', 1, 86400) ?? 600) * 1000,
  };
}

export async function makeProgress(io: Out, hosts: string[], title: string, json: boolean): Promise<Progress> {
  // listr2 is loaded only when a terminal will show it.
  if (io.isTTY && !json && process.env.CI !== 'true' && process.env.TERM !== 'dumb') return (await import('./progress-tty.js')).ttyProgress(hosts, title);
  return plainProgress(io);
}

/** Ctrl-C: stop scheduling, let robots in flight finish their step; a second Ctrl-C exits at once. */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onInt = () => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort();
    process.stderr.write('\ninterrupted: letting robots in flight finish their step (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  return { signal: ac.signal, dispose: () => (process.off('SIGINT', onInt), process.off('SIGTERM', onInt)) };
}

export async function writeReports(values: FlagValues, command: string, results: HostResult[], startedAt: Date): Promise<void> {
  if (values.junit) writeFileSync(values.junit, (await import('../report/junit.js')).junitXml(command, results));
  if (values.html) writeFileSync(values.html, (await import('../report/html.js')).htmlReport(command, results, startedAt));
}

export async function finishOutput(io: Out, values: FlagValues, command: string, results: HostResult[], startedAt: Date, aborted: string | undefined, record: string | undefined, interrupted: boolean): Promise<number> {
  await writeReports(values, command, results, startedAt);
  if (values.json) io.out(JSON.stringify(runDocument(command, results, startedAt, { aborted, record }), null, 2));
  else {
    io.out(recapText(command, results, { diff: values.diff }));
    if (aborted) io.out(`stopped: ${aborted}`);
    if (record) io.out(`run record: ${record}`);
  }
  return exitCode(summarize(results), interrupted);
}

const TASKS: Record<string, (s: FleetSetup) => HostTask> = {
  apply: (s) => applyTask(s.taskOptions),
  check: (s) => checkTask(s.taskOptions),
  verify: (s) => checkTask({ ...s.taskOptions, requireFired: true }),
  remove: (s) => removeTask(s.taskOptions),
  reboot: (s) => rebootTask({ ...s.taskOptions, rebootTimeoutMs: s.rebootTimeoutMs }),
};

export const COMMAND_HELP: Record<string, string> = {
  apply: 'fleetmasq apply -i INVENTORY [options]\n  Put the masquerade rule live exactly once on each robot\'s uplink and install its boot persistence.\n',
  check: 'fleetmasq check -i INVENTORY [options]\n  Compliance: rule live exactly once on the expected interface AND persistence installed and enabled.\n  Also reports whether persistence fired at this boot, duplicates, copies in the other iptables backend.\n',
  verify: 'fleetmasq verify -i INVENTORY [options]\n  Like check, and also requires that persistence fired at the current boot (run it after a reboot).\n',
  remove: 'fleetmasq remove -i INVENTORY [options]\n  Undo everything: every copy of the rule, the unit, the rc.local block (file restored byte for byte).\n',
  reboot: 'fleetmasq reboot -i INVENTORY [--serial SPEC] [--max-fail-percent P] [--reboot-timeout S] [options]\n  Rolling reboot with proof: a new boot_id per robot, then compliance including persistence fired at this boot.\n',
};

export async function fleetCommand(command: string, argv: string[], io: Out): Promise<number> {
  const { values, positionals } = parse(argv, COMMON_FLAGS, true);
  if (values.help) {
    io.out(COMMAND_HELP[command]! + FLEET_HELP);
    return EXIT.OK;
  }
  if (positionals.length) throw new ConfigError(`unexpected argument '${positionals[0]}'`);
  const setup = fleetSetup(values as FlagValues);
  for (const w of setup.inventory.warnings) io.err(`warning: ${w}`);
  const startedAt = new Date();
  const pool = new ConnectionPool(setup.inventory, setup.transport, (host, msg) => io.err(`[${host}] warning: ${msg}`));
  const progress = await makeProgress(io, setup.hosts, `${command} on ${setup.hosts.length} robot(s)`, Boolean(values.json));
  const { signal, dispose } = interruptSignal();
  try {
    const run = await runFleet(TASKS[command]!(setup), {
      command,
      hosts: setup.hosts,
      inventory: setup.inventory,
      pool,
      forks: setup.forks,
      serial: parseSerial(setup.serialSpec),
      maxFailPercent: setup.maxFailPercent,
      signal,
      onEvent: progress.onEvent,
    });
    await progress.stop();
    const results = setup.hosts.map((h) => run.results.get(h)!).filter(Boolean);
    return finishOutput(io, values as FlagValues, command, results, startedAt, run.aborted, run.recordFile, signal.aborted);
  } finally {
    dispose();
    await pool.closeAll();
  }
}
