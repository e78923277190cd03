import { EXIT } from '../errors.js';
import { labStatus, labUp, readLab } from '../lab/lab.js';
import { uniformSpec } from '../lab/spec.js';
import { parse, intFlag } from './args.js';
import { table, type Out } from './output.js';

export const DEMO_HELP = `fleetmasq demo [--robots N] [--keep]
  Boots a lab fleet of N robots (default 5, lab name 'demo') on this machine and shows the main job on it.
  --keep leaves the lab running afterwards (default: kept; remove it with 'fleetmasq lab down --name demo').
`;

export async function demoCommand(argv: string[], io: Out): Promise<number> {
  const { values } = parse(argv, { robots: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.out(DEMO_HELP);
    return EXIT.OK;
  }
  const n = intFlag(values.robots, 'robots', 1, 500) ?? 5;
  io.out(`== 1. Boot a lab fleet of ${n} real robots (systemd, sshd, iptables in containers)`);
  const lab = await labUp(uniformSpec('demo', n), { log: (l) => io.out(`   ${l}`) });
  io.out(`== 2. Every robot reachable over SSH through the lab's link relay`);
  const st = await labStatus(readLab('demo') ?? lab);
  io.out(table([['ROBOT', 'ADDRESS', 'IFACE', 'SSH', 'BOOT_ID'], ...st.map((s) => [s.name, s.address, s.interface, s.reachable ? 'ok' : 'FAIL', s.bootId ?? s.error ?? ''])]));
  io.out(`\nInventory: ${lab.paths.inventory}\nRemove the lab: npx fleetmasq lab down --name demo`);
  return st.every((s) => s.reachable) ? EXIT.OK : EXIT.HOSTS_FAILED;
}
