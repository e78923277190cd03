import { readFileSync } from 'node:fs';
import { ConfigError, EXIT, LabError } from '../errors.js';
import { didYouMean } from '../util/didyoumean.js';
import { labDown, labLink, labStatus, labUp, listLabs, readLab } from '../lab/lab.js';
import { checkLabName, parseLabSpec, uniformSpec } from '../lab/spec.js';
import { intFlag } from './args.js';
import { commandHelp, LAB_COMMANDS, labHelp, parseCommand } from './commands.js';
import { table, type Out } from './output.js';

export async function labCommand(argv: string[], io: Out): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(labHelp());
    return EXIT.OK;
  }
  const spec = LAB_COMMANDS[sub];
  if (!spec) throw new ConfigError(`unknown lab command '${sub}'${didYouMean(sub, Object.keys(LAB_COMMANDS))} (see 'fleetmasq lab --help')`);
  const { values, positionals } = parseCommand(`lab ${sub}`, spec, rest);
  if (values.help) {
    io.out(commandHelp(spec, false));
    return EXIT.OK;
  }
  switch (sub) {
    case 'up': {
      if (values.robots && values.spec) throw new ConfigError('use either --robots or --spec');
      if (values.form && values.spec) throw new ConfigError("--form is for --robots; a spec file says each robot's form");
      if (values.form !== undefined && values.form !== 'full' && values.form !== 'light')
        throw new ConfigError(`--form must be full or light (got '${values.form}')`);
      let labSpec;
      if (values.spec) labSpec = parseLabSpec(readFileSync(values.spec, 'utf8'), values.spec);
      else labSpec = uniformSpec('lab', intFlag(values.robots, 'robots', 1, 5000) ?? 5, intFlag(values.rtt, 'rtt', 0, 10000) ?? 0, values.form ?? 'full');
      if (values.name) labSpec = { ...labSpec, name: checkLabName(values.name) };
      const lab = await labUp(labSpec, { log: (l) => io.err(l) });
      io.out(lab.paths.inventory);
      return EXIT.OK;
    }
    case 'status': {
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
      return st.every((s) => s.reachable) ? EXIT.OK : EXIT.HOSTS_UNREACHABLE;
    }
    case 'inventory': {
      const lab = readLab(values.name ?? 'lab');
      if (!lab) throw new LabError(`no lab named '${values.name ?? 'lab'}'`);
      io.out(lab.paths.inventory);
      return EXIT.OK;
    }
    case 'link': {
      const lab = readLab(values.name ?? 'lab');
      if (!lab) throw new LabError(`no lab named '${values.name ?? 'lab'}'`);
      const res = await labLink(lab, positionals[0]!, {
        rttMs: intFlag(values.rtt, 'rtt', 0, 10000),
        stall: values.stall ? true : values.resume ? false : undefined,
        drop: values.drop,
      });
      io.out(JSON.stringify(res));
      return EXIT.OK;
    }
    case 'down': {
      const names = values.all ? listLabs() : [values.name ?? 'lab'];
      for (const n of names) await labDown(n, { log: (l) => io.err(l) });
      return EXIT.OK;
    }
    default:
      throw new ConfigError(`unknown lab command '${sub}'`);
  }
}
