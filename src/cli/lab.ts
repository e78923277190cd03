/**
 * `fleetmasq lab` and `fleetmasq demo`: their flags are declared and parsed here (commands.ts), their work
 * is the lab's. The lab is test infrastructure that lives in the source repository (lab/, built to
 * dist/lab) and is not in the published package: it is loaded when the command runs, when present
 * (loadLab), never imported by the product. Without it, these commands say so (LabAbsentError, exit 5).
 */
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, EXIT, LabAbsentError, LabError } from '../errors.js';
import { didYouMean } from '../util/didyoumean.js';
import { intFlag } from './args.js';
import { commandHelp, LAB_COMMANDS, labHelp, parseCommand, type FlagValues } from './commands.js';
import { table, type Out } from './output.js';

/** The lab's modules the CLI loads (types only: nothing of the lab is imported by the product). */
interface LabModules {
  lab: typeof import('../../lab/lab.js');
  demo: typeof import('../../lab/demo.js');
}
type Lab = LabModules['lab'];

/** One of the lab's modules, from dist/lab beside this package's dist/src, when this copy has it. */
async function loadLab<K extends keyof LabModules>(name: K): Promise<LabModules[K]> {
  const url = new URL(`../../lab/${name}.js`, import.meta.url);
  if (!existsSync(url))
    throw new LabAbsentError(
      "the lab (fleetmasq lab, fleetmasq demo) is only in fleetmasq's source repository, not in this installed package: " +
        'clone the repository, run npm ci and npm run build there, and run it from that checkout',
    );
  try {
    return (await import(url.href)) as LabModules[K];
  } catch (e) {
    // node's start-up snapshot has no import(): bin/fleetmasq.js starts lab and demo without it.
    if ((e as NodeJS.ErrnoException).code === 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING')
      throw new LabError('the lab is not in the start-up snapshot: run it through bin/fleetmasq.js, or with FLEETMASQ_NO_SNAPSHOT=1');
    throw e;
  }
}

export async function demoCommand(values: FlagValues, io: Out, argv: string[] = []): Promise<number> {
  const robots = intFlag(values.robots, 'robots', 1, 500) ?? 6;
  return (await loadLab('demo')).runDemo({ robots, name: values.name ?? 'demo' }, io, argv);
}

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
  const form = sub === 'up' ? upForm(values) : 'full';
  const lab = await loadLab('lab');
  switch (sub) {
    case 'up':
      return labUp(lab, values, form, io);
    case 'status':
      return labStatus(lab, values, io);
    case 'inventory':
      io.out(existingLab(lab, values).paths.inventory);
      return EXIT.OK;
    case 'link': {
      const change = { rttMs: intFlag(values.rtt, 'rtt', 0, 10000), stall: values.stall ? true : values.resume ? false : undefined, drop: values.drop };
      io.out(JSON.stringify(await lab.labLink(existingLab(lab, values), positionals[0]!, change)));
      return EXIT.OK;
    }
    case 'down': {
      const names = values.all ? lab.listLabs() : [values.name ?? 'lab'];
      for (const n of names) await lab.labDown(n, { log: (l) => io.err(l) });
      return EXIT.OK;
    }
    default:
      throw new ConfigError(`unknown lab command '${sub}'`);
  }
}

/** lab up's flags checked before the lab is loaded; returns the robots' form for --robots. */
function upForm(values: FlagValues): 'full' | 'light' {
  if (values.robots && values.spec) throw new ConfigError('use either --robots or --spec');
  if (values.form && values.spec) throw new ConfigError("--form is for --robots; a spec file says each robot's form");
  if (values.form !== undefined && values.form !== 'full' && values.form !== 'light') throw new ConfigError(`--form must be full or light (got '${values.form}')`);
  return values.form ?? 'full';
}

/** The lab named by --name (default 'lab'), which must exist. */
function existingLab(lab: Lab, values: FlagValues) {
  const name = values.name ?? 'lab';
  const state = lab.readLab(name);
  if (!state) throw new LabError(`no lab named '${name}' (labs: ${lab.listLabs().join(', ') || 'none'})`);
  return state;
}

async function labUp(lab: Lab, values: FlagValues, form: 'full' | 'light', io: Out): Promise<number> {
  let labSpec;
  if (values.spec) labSpec = lab.parseLabSpec(readFileSync(values.spec, 'utf8'), values.spec);
  else labSpec = lab.uniformSpec('lab', intFlag(values.robots, 'robots', 1, 5000) ?? 5, intFlag(values.rtt, 'rtt', 0, 10000) ?? 0, form);
  if (values.name) labSpec = { ...labSpec, name: lab.checkLabName(values.name) };
  const state = await lab.labUp(labSpec, { log: (l) => io.err(l) });
  io.out(state.paths.inventory);
  return EXIT.OK;
}

async function labStatus(lab: Lab, values: FlagValues, io: Out): Promise<number> {
  const state = existingLab(lab, values);
  const st = await lab.labStatus(state);
  if (values.json) io.out(JSON.stringify({ lab: state.name, inventory: state.paths.inventory, robots: st }, null, 2));
  else {
    io.out(
      table([
        ['ROBOT', 'ADDRESS', 'IFACE', 'POWER', 'BOOTS', 'SSH', 'BOOT_ID / ERROR'],
        ...st.map((s) => [s.name, s.address, s.interface, s.power, String(s.boots), s.reachable ? 'ok' : 'FAIL', s.bootId ?? s.error ?? '']),
      ]),
    );
    io.out(`${st.filter((s) => s.reachable).length}/${st.length} reachable — inventory: ${state.paths.inventory}`);
  }
  return st.every((s) => s.reachable) ? EXIT.OK : EXIT.HOSTS_UNREACHABLE;
}
