import { readFileSync } from 'node:fs';
import { ConfigError, EXIT, LabError } from '../errors.js';
import { labDown, labLink, labStatus, labUp, listLabs, readLab } from '../lab/lab.js';
import { checkLabName, parseLabSpec, uniformSpec } from '../lab/spec.js';
import { intFlag, parse } from './args.js';
import { table, type Out } from './output.js';

export const LAB_HELP = `fleetmasq lab — real test robots on this machine (systemd-nspawn, needs root)

  fleetmasq lab up [--robots N | --spec FILE] [--name NAME] [--rtt MS]
      Boot a lab fleet (default: 5 robots named robot-01.., lab name 'lab'). Replaces a lab of that name.
      Writes an Ansible-compatible inventory and a known_hosts file; prints the inventory's path.
  fleetmasq lab status [--name NAME] [--json]
      Power state and an SSH login (boot_id) per robot. Exit 2 if any robot is unreachable.
  fleetmasq lab inventory [--name NAME]
      Print the lab inventory's path.
  fleetmasq lab link ROBOT [--name NAME] [--rtt MS] [--stall | --resume] [--drop]
      Change a robot's link: added round-trip latency, stall it, resume it, or cut its connections.
  fleetmasq lab down [--name NAME | --all]
      Power off and remove everything the lab created.
`;

export async function labCommand(argv: string[], io: Out): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'up': {
      const { values } = parse(rest, {
        robots: { type: 'string' },
        spec: { type: 'string' },
        name: { type: 'string' },
        rtt: { type: 'string' },
      });
      if (values.robots && values.spec) throw new ConfigError('use either --robots or --spec');
      let spec;
      if (values.spec) spec = parseLabSpec(readFileSync(values.spec, 'utf8'), values.spec);
      else spec = uniformSpec('lab', intFlag(values.robots, 'robots', 1, 5000) ?? 5, intFlag(values.rtt, 'rtt', 0, 10000) ?? 0);
      if (values.name) spec = { ...spec, name: checkLabName(values.name) };
      const lab = await labUp(spec, { log: (l) => io.err(l) });
      io.out(lab.paths.inventory);
      return EXIT.OK;
    }
    case 'status': {
      const { values } = parse(rest, { name: { type: 'string' }, json: { type: 'boolean' } });
      const lab = readLab(values.name ?? 'lab');
      if (!lab) throw new LabError(`no lab named '${values.name ?? 'lab'}' (labs: ${listLabs().join(', ') || 'none'})`);
      const st = await labStatus(lab);
      if (values.json) io.out(JSON.stringify({ lab: lab.name, inventory: lab.paths.inventory, robots: st }, null, 2));
      else {
        io.out(
          table([
            ['ROBOT', 'ADDRESS', 'IFACE', 'POWER', 'BOOTS', 'SSH', 'BOOT_ID / ERROR'],
            ...st.map((s) => [s.name, s.address, s.interface, s.power, String(s.boots), s.reachable ? 'ok' : 'FAIL', s.bootId ?? s.error ?? '']),
          ]),
        );
        io.out(`${st.filter((s) => s.reachable).length}/${st.length} reachable — inventory: ${lab.paths.inventory}`);
      }
      return st.every((s) => s.reachable) ? EXIT.OK : EXIT.HOSTS_FAILED;
    }
    case 'inventory': {
      const { values } = parse(rest, { name: { type: 'string' } });
      const lab = readLab(values.name ?? 'lab');
      if (!lab) throw new LabError(`no lab named '${values.name ?? 'lab'}'`);
      io.out(lab.paths.inventory);
      return EXIT.OK;
    }
    case 'link': {
      const { values, positionals } = parse(rest, {
        name: { type: 'string' },
        rtt: { type: 'string' },
        stall: { type: 'boolean' },
        resume: { type: 'boolean' },
        drop: { type: 'boolean' },
      });
      const lab = readLab(values.name ?? 'lab');
      if (!lab) throw new LabError(`no lab named '${values.name ?? 'lab'}'`);
      if (positionals.length !== 1) throw new ConfigError('lab link takes one robot name');
      const res = await labLink(lab, positionals[0]!, {
        rttMs: intFlag(values.rtt, 'rtt', 0, 10000),
        stall: values.stall ? true : values.resume ? false : undefined,
        drop: values.drop,
      });
      io.out(JSON.stringify(res));
      return EXIT.OK;
    }
    case 'down': {
      const { values } = parse(rest, { name: { type: 'string' }, all: { type: 'boolean' } });
      const names = values.all ? listLabs() : [values.name ?? 'lab'];
      for (const n of names) await labDown(n, { log: (l) => io.err(l) });
      return EXIT.OK;
    }
    default:
      io.out(LAB_HELP);
      return sub === undefined || sub === '--help' || sub === 'help' ? EXIT.OK : EXIT.INVALID_INPUT;
  }
}
