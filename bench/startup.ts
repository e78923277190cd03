/**
 * Start-up cost of each command, against `node -e 0` measured in the same run (issue 28: at most 1.5×).
 *
 *   npm run bench:startup -- [--runs K] [--plain] [--out DIR]
 *
 * Each round runs `node -e 0` and then every command once (so a busy moment hits them alike); each run
 * is one process timed by bash's `time`: its CPU seconds (user + sys, its children's included). The
 * fleet commands run against one robot that refuses at once (127.0.0.1, port 1, in a YAML inventory):
 * everything a command does but talk to robots (node, the modules, the inventory, a connection attempt,
 * the recap and the run record).
 * Commands start as an operator starts them: bin/fleetmasq.js as a command (from the start-up snapshot
 * when there is one); --plain adds the same commands as `node bin/fleetmasq.js` (no snapshot), for the
 * comparison. Prints min and median per command and the ratio of medians to `node -e 0`'s, and writes
 * every measure to DIR/startup-DATE.json (default bench-results/).
 * When NODE_EXTRA_CA_CERTS is set, every case also runs without it, against its own `node -e 0`: node
 * reads and parses that certificate file at every start, before any script (with a system's whole CA
 * bundle, more CPU than `node -e 0` takes without it), which makes every ratio look smaller.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(root, 'bin', 'fleetmasq.js');

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, plain: { type: 'boolean', default: false }, out: { type: 'string', default: 'bench-results' } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

const dir = mkdtempSync(join(tmpdir(), 'fleetmasq-startup-'));
const inv = join(dir, 'inventory.yml');
writeFileSync(inv, 'all:\n  hosts:\n    r1:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n');
const fleet = ['-i', inv, '--connect-retries', '0', '-q'];
const commands: [string, string[]][] = [
  ['--version', ['--version']],
  ['--help', ['--help']],
  ['check --help', ['check', '--help']],
  ['inventory --list', ['inventory', '-i', inv, '--list']],
  ['check', ['check', ...fleet]],
  ['apply', ['apply', ...fleet]],
  ['status', ['status', '-i', inv]],
];

interface Case {
  name: string;
  argv: string[];
  cpu: number[];
}
const inherited = { ...process.env };
const withoutCa = { ...process.env };
delete withoutCa.NODE_EXTRA_CA_CERTS;
const envs: [string, NodeJS.ProcessEnv][] = [['as inherited', inherited]];
if (process.env.NODE_EXTRA_CA_CERTS) envs.push(['without NODE_EXTRA_CA_CERTS', withoutCa]);

function casesFor(): Case[] {
  const cases: Case[] = [{ name: 'node -e 0', argv: [process.execPath, '-e', '0'], cpu: [] }];
  for (const [name, args] of commands) cases.push({ name, argv: [BIN, ...args], cpu: [] });
  if (values.plain) for (const [name, args] of commands) cases.push({ name: `${name} (node bin/fleetmasq.js)`, argv: [process.execPath, BIN, ...args], cpu: [] });
  return cases;
}
const sets = envs.map(([label, env]) => ({ label, env, cases: casesFor() }));

// bash's `time` reads the child's rusage to the millisecond (/usr/bin/time prints hundredths).
function cpuOf(argv: string[], env: NodeJS.ProcessEnv): number {
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="%3U %3S"; time "$@" >/dev/null 2>&1 </dev/null', 'bash', ...argv], { cwd: dir, encoding: 'utf8', env });
  if (r.error) throw r.error;
  const line = r.stderr.trim().split('\n').pop() ?? '';
  const [u, s] = line.split(' ').map(Number);
  if (!Number.isFinite(u) || !Number.isFinite(s)) throw new Error(`cannot read bash's time: ${line}`);
  return u! + s!;
}

for (let i = 0; i < runs; i++) for (const set of sets) for (const c of set.cases) c.cpu.push(cpuOf(c.argv, set.env));
rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
console.log(`start-up, ${runs} rounds, ${new Date().toISOString()}, node ${process.version}`);
for (const { label, cases } of sets) {
  const base = median(cases[0]!.cpu);
  const rows = [[`command (environment ${label})`, 'CPU-s min', 'median', 'ratio to node -e 0 (medians)']];
  for (const c of cases) rows.push([c.name, Math.min(...c.cpu).toFixed(3), median(c.cpu).toFixed(3), `${(median(c.cpu) / base).toFixed(2)}×`]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((x, i) => x.padEnd(widths[i]!)).join('  '));
}
const date = new Date().toISOString();
const doc = { date, node: process.version, runs, sets: sets.map(({ label, cases }) => ({ environment: label, cases: cases.map(({ name, cpu }) => ({ name, cpu })) })) };
mkdirSync(values.out, { recursive: true });
const file = join(values.out, `startup-${date.slice(0, 19).replace(/:/g, '')}.json`);
writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
console.log(`saved ${file}`);
