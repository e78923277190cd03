/**
 * The demo: the main job on a lab fleet booted on this machine — compliance before, rollout, a rolling
 * reboot that proves the rule comes back, compliance after with an HTML report.
 */
import { resolve } from 'node:path';
import { EXIT } from '../errors.js';
import { labStatus, labUp } from '../lab/lab.js';
import { checkLabName, mixedSpec } from '../lab/spec.js';
import { intFlag } from './args.js';
import { main } from './main.js';
import type { FlagValues } from './commands.js';
import { table, type Out } from './output.js';

export async function demoCommand(values: FlagValues, io: Out): Promise<number> {
  const n = intFlag(values.robots, 'robots', 1, 500) ?? 6;
  const name = checkLabName(values.name ?? 'demo');
  const head = (s: string) => io.out(`\n=== ${s}`);
  head(`1/6 Boot a lab fleet of ${n} real robots (systemd, sshd, iptables; a real reboot is a real reboot)`);
  const lab = await labUp(mixedSpec(name, n), { log: (l) => io.out(`    ${l}`) });
  const st = await labStatus(lab);
  io.out(table([['ROBOT', 'UPLINK', 'IPTABLES', 'LOGIN', 'RC.LOCAL', 'SSH'], ...lab.robots.map((r, i) => [r.name, r.interface, r.iptables, r.login, r.rcLocal === 'exit0' ? 'stock' : '-', st[i]!.reachable ? 'ok' : 'FAIL'])]));
  const inv = lab.paths.inventory;
  head('2/6 Compliance before: fleetmasq check');
  await main(['check', '-i', inv], io);
  head('3/6 Preview the rollout: fleetmasq apply --check --diff (changes nothing)');
  await main(['apply', '-i', inv, '--check', '--diff', '-l', lab.robots[Math.min(3, n - 1)]!.name], io);
  head('4/6 Roll out: fleetmasq apply (rule live exactly once on each uplink + boot persistence)');
  const applied = await main(['apply', '-i', inv], io);
  head('5/6 Prove it survives a reboot: fleetmasq reboot --serial 1,50% (canary first, new boot_id, rule back)');
  const rebooted = await main(['reboot', '-i', inv, '--serial', '1,50%'], io);
  head('6/6 Compliance after, with reports: fleetmasq check --html --junit');
  const html = resolve('fleetmasq-demo-report.html');
  const checked = await main(['check', '-i', inv, '--html', html, '--junit', resolve('fleetmasq-demo-junit.xml')], io);
  io.out(`\nHTML report: ${html}\nInventory of the lab: ${inv}\nRemove the lab: npx fleetmasq lab down --name ${name}`);
  return [applied, rebooted, checked].find((c) => c !== EXIT.OK) ?? EXIT.OK;
}
