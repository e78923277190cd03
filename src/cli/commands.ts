/**
 * Every command and every flag, declared once: the parser, the validation of a flag's place (a flag a
 * command does not take is an error), did-you-mean for misspelled flags, and each command's help (only
 * its own flags) all come from these tables. node's parseArgs does the tokenising: it is built in, so a
 * command's start loads nothing more (a CLI library would cost start-up time on every run).
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { didYouMean } from '../util/didyoumean.js';

export interface FlagSpec {
  short?: string;
  type: 'string' | 'boolean';
  /** The value's placeholder in help (string flags). */
  arg?: string;
  help: string;
  /** Given several times, every value is kept (in order). */
  multiple?: boolean;
}

export const FLAGS = {
  inventory: {
    short: 'i',
    type: 'string',
    arg: 'SOURCE',
    multiple: true,
    help: 'YAML/INI file, folder, executable, plugin config, or host list a,b, (repeatable; default: ANSIBLE_INVENTORY, then ansible.cfg)',
  },
  user: { short: 'u', type: 'string', arg: 'USER', help: 'connect as USER (as Ansible: over remote_user; a host\'s ansible_user still wins)' },
  'private-key': { type: 'string', arg: 'FILE', help: 'SSH key (as Ansible: over private_key_file; a host\'s ansible_ssh_private_key_file still wins)' },
  'strict-vars': { type: 'boolean', help: "a near miss of a variable fleetmasq uses (ansible_usr) is an error, not a warning" },
  limit: { short: 'l', type: 'string', arg: 'PATTERN', help: 'narrow the robots: names, groups, globs, a:b, a:!b, a:&b, ~regex' },
  forks: { short: 'f', type: 'string', arg: 'N', help: 'robots at once (default 50)' },
  serial: { type: 'string', arg: 'SPEC', help: 'batches: N, N%, or a list like 1,25% (the first is a canary)' },
  'max-fail-percent': { type: 'string', arg: 'P', help: 'stop when more than P% of a batch failed (replaces the canary rule)' },
  interface: { type: 'string', arg: 'NAME[,NAME]|auto', help: 'override masquerade_interface (usb+ matches usb0, usb1…)' },
  'allow-absent-interface': { type: 'boolean', help: 'apply even where the named interface does not exist (yet)' },
  persistence: { type: 'string', arg: 'MODE', help: 'override masquerade_persistence: systemd, rc.local, external or auto' },
  check: { short: 'C', type: 'boolean', help: 'dry run: change nothing, report what would change' },
  diff: { short: 'D', type: 'boolean', help: 'show diffs of files and rules' },
  force: { type: 'boolean', help: 'reboot robots that are not compliant before the reboot too' },
  'reboot-timeout': { type: 'string', arg: 'S', help: 'seconds a robot may take to come back (default 600)' },
  json: { type: 'boolean', help: 'print one JSON document instead of the recap' },
  junit: { type: 'string', arg: 'FILE', help: 'write a JUnit XML report' },
  html: { type: 'string', arg: 'FILE', help: 'write a self-contained HTML report' },
  stun: { type: 'string', arg: 'HOST:PORT', help: 'STUN server (default: masquerade_stun_server, else stun.l.google.com:19302)' },
  attempts: { type: 'string', arg: 'N', help: 'connection attempts per robot (default 5)' },
  ab: { type: 'boolean', help: "the field note's A/B experiment: masquerading off/on in turns, restored after" },
  'ab-groups': { type: 'string', arg: 'G', help: 'A/B groups, alternating off/on (default 4)' },
  'ab-per': { type: 'string', arg: 'N', help: 'attempts per A/B group (default 5)' },
  prom: { type: 'string', arg: 'FILE', help: "write Prometheus metrics (node_exporter textfile format), atomically" },
  quiet: { short: 'q', type: 'boolean', help: 'no progress lines (warnings and the recap only)' },
  verbose: {
    short: 'v',
    type: 'boolean',
    multiple: true,
    help: 'more detail on stderr, secrets never shown: -v each step, its time and each command\'s exit status; -vv also the scripts sent and the robots\' raw output; -vvv also the SSH handshake (algorithms, keys, proxies)',
  },
  'ssh-config': { type: 'string', arg: 'FILE', help: 'OpenSSH client config (default ~/.ssh/config)' },
  'known-hosts': { type: 'string', arg: 'FILE', help: 'known_hosts to verify host keys against' },
  'host-key-checking': { type: 'string', arg: 'MODE', help: 'strict (default), accept-new, or off' },
  'connect-timeout': { type: 'string', arg: 'S', help: 'SSH connect timeout (default 10)' },
  'connect-retries': { type: 'string', arg: 'N', help: 'more attempts after a refused or dropped handshake, with backoff (not after silence; default: ansible_ssh_retries, else 2)' },
  'command-timeout': { type: 'string', arg: 'S', help: 'timeout of each remote command (default 120)' },
  'ask-become-pass': { short: 'K', type: 'boolean', help: 'ask for the sudo password (or FLEETMASQ_BECOME_PASSWORD)' },
  'wait-lock': { type: 'string', arg: 'D', help: "wait this long (90s, 30m) for another run's lock on a robot" },
  'until-converged': { type: 'boolean', help: 'keep trying unreachable robots, with backoff, until --deadline' },
  deadline: { type: 'string', arg: 'D', help: 'how long --until-converged keeps trying (90s, 30m, 72h)' },
  stale: { type: 'string', arg: 'D', help: 'a robot not seen for longer (90s, 30m, 72h, 2d) is stale' },
  shard: { type: 'string', arg: 'I/N', help: 'only share I of N (1..N) of the selected robots, stable by name: split a fleet over runners' },
  keep: { type: 'string', arg: 'D', help: 'drop run records older than D from the store (default 400d, or FLEETMASQ_KEEP)' },
  run: { type: 'string', arg: 'RUN', help: "with --host: that robot's stored result of run RUN, raw output included" },
  jsonl: { type: 'boolean', help: 'every stored result of the selected robots as JSON lines (an export for scripts)' },
  // inventory
  list: { type: 'boolean', help: 'the inventory as ansible-inventory --list prints it' },
  graph: { type: 'boolean', help: 'the group tree (from GROUP, default all)' },
  host: { type: 'string', arg: 'NAME', help: "one robot's variables" },
  // demo and lab
  robots: { type: 'string', arg: 'N', help: 'how many robots' },
  name: { type: 'string', arg: 'NAME', help: 'lab name' },
  spec: { type: 'string', arg: 'FILE', help: 'lab spec file (a mixed fleet)' },
  rtt: { type: 'string', arg: 'MS', help: 'added round-trip latency' },
  form: { type: 'string', arg: 'FORM', help: 'full (systemd-nspawn: boots, managers) or light (a namespace and an sshd: 1,000s)' },
  stall: { type: 'boolean', help: 'stop forwarding the link' },
  resume: { type: 'boolean', help: 'resume a stalled link' },
  drop: { type: 'boolean', help: "cut the robot's connections" },
  all: { type: 'boolean', help: 'every lab' },
  help: { short: 'h', type: 'boolean', help: 'this help' },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;
export type FlagValues = {
  [K in FlagName]?: (typeof FLAGS)[K] extends { multiple: true }
    ? (typeof FLAGS)[K]['type'] extends 'boolean'
      ? boolean[]
      : string[]
    : (typeof FLAGS)[K]['type'] extends 'boolean'
      ? boolean
      : string;
};

/** -v, -vv, -vvv: how many (0 without). */
export function verbosity(values: FlagValues): number {
  return Math.min(3, values.verbose?.length ?? 0);
}

// Every command that contacts robots takes these (and -v).
const CONNECT = ['user', 'private-key', 'ssh-config', 'known-hosts', 'host-key-checking', 'connect-timeout', 'connect-retries', 'command-timeout', 'ask-become-pass', 'verbose'] as const satisfies readonly FlagName[];
const OUTPUT = ['json', 'junit', 'html', 'quiet'] as const satisfies readonly FlagName[];
const SELECT = ['inventory', 'limit', 'forks', 'shard', 'keep', 'strict-vars'] as const satisfies readonly FlagName[];
const ROLLOUT = ['serial', 'max-fail-percent'] as const satisfies readonly FlagName[];
const CONVERGE = ['until-converged', 'deadline'] as const satisfies readonly FlagName[];

export interface CommandSpec {
  usage: string;
  summary: string;
  /** More lines of help under the usage. */
  about?: string;
  flags: readonly FlagName[];
  positionals?: { min: number; max: number };
}

export const COMMANDS = {
  apply: {
    usage: 'fleetmasq apply -i INVENTORY [options]',
    summary: 'put the rule live (once, right interface) and persist it',
    about: "Puts the masquerade rule live exactly once on each robot's uplink and installs\nits boot persistence (systemd or rc.local).",
    flags: [...SELECT, ...ROLLOUT, 'interface', 'allow-absent-interface', 'persistence', 'check', 'diff', 'wait-lock', ...CONVERGE, ...OUTPUT, ...CONNECT],
  },
  check: {
    usage: 'fleetmasq check -i INVENTORY [options]',
    summary: 'compliance: rule live once and persistence installed',
    about: 'Compliance: rule live exactly once on the expected interface AND persistence\ninstalled and enabled. Also reports whether persistence fired at this boot,\nduplicates, and copies in the other iptables backend. Changes nothing.',
    flags: [...SELECT, 'interface', 'persistence', ...CONVERGE, ...OUTPUT, 'prom', ...CONNECT],
  },
  verify: {
    usage: 'fleetmasq verify -i INVENTORY [options]',
    summary: 'check, and require that persistence fired at this boot',
    about: 'Like check, and also requires that persistence fired at the current boot\n(run it after a reboot). Changes nothing.',
    flags: [...SELECT, 'interface', 'persistence', ...CONVERGE, ...OUTPUT, 'prom', ...CONNECT],
  },
  remove: {
    usage: 'fleetmasq remove -i INVENTORY [options]',
    summary: 'undo everything, leaving each robot as it was',
    about: 'Undo everything: every copy of the rule, the unit, the rc.local block (the file\nrestored byte for byte).',
    flags: [...SELECT, ...ROLLOUT, 'interface', 'check', 'diff', 'wait-lock', ...CONVERGE, ...OUTPUT, ...CONNECT],
  },
  reboot: {
    usage: 'fleetmasq reboot -i INVENTORY [--serial SPEC] [options]',
    summary: 'rolling reboots that prove each robot came back compliant',
    about:
      'Rolling reboot with proof: a new boot_id per robot, then compliance including\n' +
      'persistence fired at this boot. A robot not compliant before is not rebooted\n' +
      '(skipped) unless --force. The rollout stops after a batch in which every robot\n' +
      'failed, and after any failure in the canary (first batch of a --serial list)\n' +
      'unless --max-fail-percent is given.',
    flags: [...SELECT, ...ROLLOUT, 'force', 'reboot-timeout', 'interface', 'persistence', 'check', 'wait-lock', ...OUTPUT, ...CONNECT],
  },
  play: {
    usage: 'fleetmasq play PLAYBOOK -i INVENTORY [options]',
    summary: 'run a playbook (rollout, compliance, reboot-verify, remove)',
    about:
      'Runs an Ansible-style playbook of fleetmasq modules: masquerade, persist, reboot,\n' +
      "verify, check, remove. --serial, --max-fail-percent, --reboot-timeout and --force\n" +
      "given on the command line override every play's.",
    flags: [...SELECT, ...ROLLOUT, 'force', 'reboot-timeout', 'interface', 'allow-absent-interface', 'persistence', 'check', 'diff', 'wait-lock', ...OUTPUT, ...CONNECT],
    positionals: { min: 1, max: 1 },
  },
  status: {
    usage: 'fleetmasq status -i INVENTORY [--stale D] | --host ROBOT [--run RUN]',
    summary: 'the fleet from the store, contacting no robot',
    about:
      'Answers from the store alone (.fleetmasq/fleetmasq.db, or FLEETMASQ_STORE: a path or postgres://…):\n' +
      "per robot its newest evidence from any command (check, verify, apply, remove, reboot, diagnose)\n" +
      'and its age, when it last answered, its last result, its boot id; robots never seen; robots not\n' +
      "seen for longer than --stale. --html adds the fleet's compliance over time, --prom writes it as\n" +
      "metrics, --host ROBOT prints that robot's history (--run RUN: one stored result, raw output\n" +
      'included), --jsonl exports every stored result. Exit 0 when every robot was last found compliant\n' +
      'and none is stale, 2 when one was last found not compliant (or removed), 4 otherwise.',
    flags: ['inventory', 'limit', 'stale', 'host', 'run', 'jsonl', 'keep', 'json', 'html', 'prom'],
  },
  inventory: {
    usage: 'fleetmasq inventory -i FILE (--list | --graph [GROUP] | --host NAME)',
    summary: 'show the resolved inventory (--list, --graph, --host)',
    about: 'Shows the inventory as fleetmasq resolves it (--list: the same JSON as\nansible-inventory --list). With --limit: the names of the robots it selects.',
    flags: ['inventory', 'list', 'graph', 'host', 'limit', 'strict-vars'],
    positionals: { min: 0, max: 1 },
  },
  diagnose: {
    usage: 'fleetmasq diagnose -i INVENTORY [--stun HOST:PORT] [--attempts N] [--ab]',
    summary: 'which robots the hotspot bug hits, and proof the fix removes it',
    about:
      'On each robot, ICE-like connection attempts: UDP from every local IPv4 address\n' +
      'to a STUN server, reading the public address before and after each. Verdict:\n' +
      'affected-unprotected, protected, not-affected, or inconclusive. A leak test\n' +
      'sees on the uplink whether a foreign source goes out untranslated. --ab runs\n' +
      "the field note's experiment (groups alternating masquerading off/on, only the\n" +
      'live rule touched) under a robot-side timer that restores the original state.\n' +
      'Needs python3 on the robot. Exit 2 when a robot is affected and unprotected.',
    flags: [...SELECT, 'interface', 'stun', 'attempts', 'ab', 'ab-groups', 'ab-per', 'json', 'html', 'quiet', ...CONNECT],
  },
  config: {
    usage: 'fleetmasq config [-i SOURCE] [--json]',
    summary: 'what comes from ansible.cfg and the environment, and from where',
    about:
      'Shows the ansible.cfg that Ansible would find ($ANSIBLE_CONFIG, ./ansible.cfg,\n' +
      '~/.ansible.cfg, /etc/ansible/ansible.cfg) and the settings fleetmasq takes from\n' +
      'it or the environment (inventory, remote_user, private_key_file, forks, timeout,\n' +
      'host_key_checking), each with its value and where it came from.',
    flags: ['inventory', 'json'],
  },
  snippet: {
    usage: 'fleetmasq snippet entrypoint [--interface NAME[,NAME]|auto]',
    summary: "print an entry-point fragment for robots whose stack owns the rule",
    about:
      "Prints an idempotent POSIX-sh fragment for a container's entry point (the field\n" +
      "note's advice for robots running their stack in Docker): the rule once per\n" +
      'interface, never failing the entry point. Pair it with masquerade_persistence:\n' +
      'external, so that check verifies the live rule and leaves persistence to it.',
    flags: ['interface'],
    positionals: { min: 1, max: 1 },
  },
  demo: {
    usage: 'fleetmasq demo [--robots N] [--name NAME]',
    summary: 'boot a lab fleet here and run the main job on it',
    about:
      "Boots a lab fleet of N real robots (default 6; lab NAME, default 'demo') and runs\n" +
      'the main job: check -> apply --check --diff -> apply -> reboot --serial 1,50%\n' +
      '-> check, leaving fleetmasq-demo-report.html and a JUnit file here. The lab\n' +
      "stays up: remove it with 'npx fleetmasq lab down --name NAME'.",
    flags: ['robots', 'name'],
  },
  lab: {
    usage: 'fleetmasq lab up|status|inventory|link|down [options]',
    summary: 'real test robots on this machine (see lab --help)',
    flags: [],
  },
  help: {
    usage: 'fleetmasq help [TOPIC]',
    summary: 'the guides (docs/*.md): help alone lists the topics',
    about: 'Prints a user guide, the same text as docs/TOPIC.md: guide, reference, inventory,\nsecurity, robots, output, monitoring. Alone, lists the topics.',
    flags: [],
    positionals: { min: 0, max: 1 },
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;
/** A command's options, typed: exactly the flags it declares (what its parsed command line gives). */
export type CommandOptions<C extends CommandName> = Pick<FlagValues, (typeof COMMANDS)[C]['flags'][number]>;

export const LAB_COMMANDS: Record<string, CommandSpec> = {
  up: {
    usage: 'fleetmasq lab up [--robots N --form F | --spec FILE] [--name N] [--rtt T]',
    summary: "boot a lab fleet (default: 5 robots, lab 'lab'); prints its inventory",
    flags: ['robots', 'spec', 'name', 'rtt', 'form'],
  },
  status: { usage: 'fleetmasq lab status [--name NAME] [--json]', summary: 'power and an SSH login per robot (exit 4 if any is unreachable)', flags: ['name', 'json'] },
  inventory: { usage: 'fleetmasq lab inventory [--name NAME]', summary: "print the lab inventory's path", flags: ['name'] },
  link: {
    usage: 'fleetmasq lab link ROBOT [--name N] [--rtt MS] [--stall|--resume|--drop]',
    summary: "change a robot's link: latency, stall, resume, cut",
    flags: ['name', 'rtt', 'stall', 'resume', 'drop'],
    positionals: { min: 1, max: 1 },
  },
  down: { usage: 'fleetmasq lab down [--name NAME | --all]', summary: 'power off and remove everything the lab created', flags: ['name', 'all'] },
};

export const EXIT_CODES =
  'Exit codes: 0 ok; 2 a robot failed or is not compliant, or the rollout stopped;\n' +
  '4 robots unreachable and nothing else wrong; 5 invalid input (nothing\n' +
  'contacted); 6 a host key was refused (changed, revoked or unknown);\n' +
  '130 interrupted.';

/** Words wrapped to `width` columns. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const w of text.split(' ')) {
    if (cur && cur.length + 1 + w.length > width) (out.push(cur), (cur = w));
    else cur = cur ? `${cur} ${w}` : w;
  }
  return cur ? [...out, cur] : out;
}

function flagLine(name: FlagName): string {
  const f: FlagSpec = FLAGS[name];
  const left = `  ${f.short ? `-${f.short}, ` : '    '}--${name}${f.type === 'string' ? ` ${f.arg}` : ''}`;
  const col = 32;
  const text = wrap(f.help, 80 - col);
  const first = left.length < col ? [left.padEnd(col) + text[0]] : [left, ' '.repeat(col) + text[0]];
  return [...first, ...text.slice(1).map((t) => ' '.repeat(col) + t)].join('\n');
}

/** A command's help: its usage, what it does, and only the flags it takes. */
export function commandHelp(spec: CommandSpec, exitCodes = true): string {
  const lines = [`Usage: ${spec.usage}`, ''];
  if (spec.about) lines.push(...wrap(spec.about.replace(/\n/g, ' '), 76).map((l) => `  ${l}`), '');
  if (spec.flags.length) lines.push('Options:', ...[...spec.flags, 'help' as FlagName].map(flagLine), '');
  if (exitCodes) lines.push(EXIT_CODES);
  return lines.join('\n') + '\n';
}

export function topHelp(version: string): string {
  const rows = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`);
  return [
    `fleetmasq ${version} — keep WebRTC alive on robots behind cellular hotspots`,
    '',
    'Usage: fleetmasq <command> [options]',
    '',
    'Commands:',
    ...rows,
    '',
    "Run 'fleetmasq <command> --help' for a command's options, 'fleetmasq help' for",
    'the guides; --version for the version.',
    '',
    EXIT_CODES,
    '',
  ].join('\n');
}

export function labHelp(): string {
  return [
    'fleetmasq lab — real test robots on this machine (systemd-nspawn, needs root)',
    '',
    ...Object.values(LAB_COMMANDS).flatMap((c) => [`  ${c.usage}`, `      ${c.summary}`]),
    '',
  ].join('\n');
}

/**
 * Parses a command's argv against its declaration. Errors (exit 5): a flag the command does not take
 * (naming the commands that do), an unknown flag (with did-you-mean), a flag given twice, a missing
 * value, a wrong number of positionals.
 */
export function parseCommand(command: string, spec: CommandSpec, argv: string[]): { values: FlagValues; positionals: string[] } {
  const allowed = new Set<string>([...spec.flags, 'help']);
  const specOf = (n: string): FlagSpec => FLAGS[n as FlagName];
  const byShort = new Map<string, string>(Object.keys(FLAGS).flatMap((n) => (specOf(n).short ? [[specOf(n).short!, n] as [string, string]] : [])));
  const seen = new Set<string>();
  /** Checks one flag's place; returns whether it takes the next token as its value. */
  const check = (name: string, inline: boolean): boolean => {
    if (!allowed.has(name)) {
      const takers = Object.entries(COMMANDS)
        .filter(([, c]) => (c.flags as readonly string[]).includes(name))
        .map(([n]) => n);
      if (name in FLAGS && takers.length) throw new ConfigError(`--${name} does not apply to ${command} (it is an option of ${takers.join(', ')})`);
      const hint = didYouMean(name, allowed);
      throw new ConfigError(`unknown option '--${name}' for ${command}${hint ? hint.replace(/'([^']+)'/, "'--$1'") : ` (see 'fleetmasq ${command} --help')`}`);
    }
    if (seen.has(name) && !specOf(name).multiple) {
      const how = name === 'limit' ? ": combine patterns in one (-l 'a:b' for either, -l 'a:&b' for both)" : '';
      throw new ConfigError(`--${name} given more than once${how}`);
    }
    seen.add(name);
    return specOf(name).type === 'string' && !inline;
  };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') break;
    let takesNext = false;
    if (tok.startsWith('--')) takesNext = check(tok.slice(2).split('=')[0]!, tok.includes('='));
    else if (/^-[A-Za-z]/.test(tok)) {
      // A group of short flags (-CD, -ql all): every letter is a flag until one that takes a value,
      // which takes the rest of the group (-lcanary) or the next token.
      for (let j = 1; j < tok.length; j++) {
        const name = byShort.get(tok[j]!);
        if (!name) throw new ConfigError(`unknown option '-${tok[j]}' for ${command} (see 'fleetmasq ${command} --help')`);
        if (specOf(name).type === 'string') {
          takesNext = check(name, j + 1 < tok.length);
          break;
        }
        check(name, false);
      }
    } else continue;
    if (takesNext) {
      if (i + 1 >= argv.length) throw new ConfigError(`option ${tok} needs a value`);
      i++;
    }
  }
  const options = Object.fromEntries(
    [...allowed].map((n) => {
      const f = specOf(n);
      return [n, { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) }];
    }),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message.replace(/\. To specify a positional.*$/s, '')}`);
  }
  const values = parsed.values as FlagValues;
  const pos = spec.positionals ?? { min: 0, max: 0 };
  if (!values.help) {
    if (parsed.positionals.length > pos.max) throw new ConfigError(`unexpected argument '${parsed.positionals[pos.max]}' for ${command}`);
    if (parsed.positionals.length < pos.min) throw new ConfigError(`${command} needs ${spec.usage.replace(/^fleetmasq /, '')}`);
  }
  return { values, positionals: parsed.positionals };
}
