/**
 * The demo (`fleetmasq demo`, `npm run demo`): the main job on a lab fleet booted on this machine —
 * compliance before, rollout, a rolling reboot that proves the rule comes back, compliance after with an
 * HTML report. It calls the fleet commands as typed functions (runFleetCommand), as the CLI does after
 * parsing their flags.
 */
import { resolve } from 'node:path';
import { EXIT } from '../src/errors.js';
import { runFleetCommand } from '../src/cli/fleet.js';
import { table, type Out } from '../src/cli/output.js';
import { labStatus } from './lab.js';
import { checkLabName, mixedSpec } from './spec.js';
import type { LabState } from './state.js';
import { labUp } from './up.js';

export interface DemoOptions {
  /** How many robots (a mixed fleet: uplinks, iptables backends, logins). */
  robots: number;
  /** The lab's name. */
  name: string;
}

/** Runs the demo; `argv` (the demo's own command line) is what its runs' records keep. */
export async function runDemo(options: DemoOptions, io: Out, argv: string[] = []): Promise<number> {
  const n = options.robots;
  const name = checkLabName(options.name);
  const head = (s: string) => io.out(`\n=== ${s}`);
  head(`1/6 Boot a lab fleet of ${n} real robots (systemd, sshd, iptables; a real reboot is a real reboot)`);
  const lab = await bootFleet(name, n, io);
  const inventory = [lab.paths.inventory];
  head('2/6 Compliance before: fleetmasq check');
  await runFleetCommand('check', { inventory }, io, argv);
  head('3/6 Preview the rollout: fleetmasq apply --check --diff (changes nothing)');
  await runFleetCommand('apply', { inventory, check: true, diff: true, limit: lab.robots[Math.min(3, n - 1)]!.name }, io, argv);
  head('4/6 Roll out: fleetmasq apply (rule live exactly once on each uplink + boot persistence)');
  const applied = await runFleetCommand('apply', { inventory }, io, argv);
  head('5/6 Prove it survives a reboot: fleetmasq reboot --serial 1,50% (canary first, new boot_id, rule back)');
  const rebooted = await runFleetCommand('reboot', { inventory, serial: '1,50%' }, io, argv);
  head('6/6 Compliance after, with reports: fleetmasq check --html --junit');
  const html = resolve('fleetmasq-demo-report.html');
  const checked = await runFleetCommand('check', { inventory, html, junit: resolve('fleetmasq-demo-junit.xml') }, io, argv);
  io.out(`\nHTML report: ${html}\nInventory of the lab: ${lab.paths.inventory}\nRemove the lab: npx fleetmasq lab down --name ${name}`);
  return [applied, rebooted, checked].find((c) => c !== EXIT.OK) ?? EXIT.OK;
}

/** The demo's mixed fleet, booted, and a table of its robots. */
async function bootFleet(name: string, n: number, io: Out): Promise<LabState> {
  const lab = await labUp(mixedSpec(name, n), { log: (l) => io.out(`    ${l}`) });
  const st = await labStatus(lab);
  const rows = lab.robots.map((r, i) => [r.name, r.interface, r.iptables, r.login, r.rcLocal === 'exit0' ? 'stock' : '-', st[i]!.reachable ? 'ok' : 'FAIL']);
  io.out(table([['ROBOT', 'UPLINK', 'IPTABLES', 'LOGIN', 'RC.LOCAL', 'SSH'], ...rows]));
  return lab;
}
