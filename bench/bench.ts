/**
 * Benchmark on lab robots: the same jobs on the same robots in the same run, by
 *   (a) fleetmasq, (b) a raw OpenSSH fan-out (`xargs -P N ssh ...` running the equivalent shell),
 *   (c) Ansible (ansible-core, forks = N, pipelining on, no fact gathering), skipped if missing.
 * Jobs: check (nothing to do), apply (first), apply again (nothing to change), reboot-and-verify.
 * Each measurement is one command under /usr/bin/time: wall seconds, control-side CPU seconds
 * (user+sys of it and its children) and peak RSS (of the largest single process).
 *
 *   npm run bench -- [--robots N] [--rtt MS] [--runs K] [--sizes 10,30] [--tools fleetmasq,raw,ansible]
 *                    [--jobs apply,apply-again,check,reboot] [--out DIR] [--lab NAME] [--keep]
 *                    [--silent P] [--forks F] [--form full|light] [--direct] [--connect-timeout S]
 * --silent P: P% of the robots give no answer at all during each timed command (their links stalled by
 * the lab relay, resumed after): what silent robots cost the rest. --forks F: robots at once (default N).
 * --form light: light lab robots (lab/spec.ts: a namespace, an overlay root and an sshd each; no
 * systemd), so a thousand fit here; jobs check, apply and apply-again; persistence is not modelled (the
 * tools check and apply the live rule only). --direct: the tools run inside the lab's network namespace
 * and reach the robots over TCP, as a fleet reached directly (no ProxyCommand process per connection, no
 * relay, so no --rtt or --silent). --connect-timeout S: for every tool (default 10): on 2 shared cores,
 * hundreds of robots' sshd answer late. --also-forks F: fleetmasq's check once more per run with --forks F
 * (memory with F robots in flight), reported as the job "check --forks F".
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { labDown, labLink, labUp, type LabState } from '../lab/lab.js';
import { checkLabName, uniformSpec } from '../lab/spec.js';
import { renderUnit } from '../src/remote/files/unit.js';
import { run } from '../src/util/proc.js';
import { shQuote } from '../src/util/quote.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(root, 'bin', 'fleetmasq.js');
type Tool = 'fleetmasq' | 'raw' | 'ansible';
type Job = 'check' | 'apply' | 'apply-again' | 'reboot';

interface Sample {
  wall: number;
  cpu: number;
  rssMb: number;
  ok: boolean;
  note?: string;
}

const { values } = parseArgs({
  options: {
    robots: { type: 'string', default: '30' },
    rtt: { type: 'string', default: '0' },
    runs: { type: 'string', default: '3' },
    sizes: { type: 'string' },
    tools: { type: 'string', default: 'fleetmasq,raw,ansible' },
    jobs: { type: 'string', default: 'apply,apply-again,check,reboot' },
    out: { type: 'string', default: 'bench-results' },
    lab: { type: 'string', default: 'bench' },
    keep: { type: 'boolean', default: false },
    silent: { type: 'string', default: '0' },
    forks: { type: 'string' },
    form: { type: 'string', default: 'full' },
    direct: { type: 'boolean', default: false },
    'connect-timeout': { type: 'string', default: '10' },
    'also-forks': { type: 'string' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}
const int = (v: string, what: string, min: number, max: number) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) fail(`${what} must be an integer from ${min} to ${max} (got '${v}')`);
  return n;
};
const runs = int(values.runs!, '--runs', 1, 100);
const rtt = int(values.rtt!, '--rtt', 0, 10_000);
const sizes = (values.sizes ?? values.robots!).split(',').map((v) => int(v, '--robots/--sizes', 1, 5000));
const silentPct = int(values.silent!, '--silent', 0, 90);
const forksOpt = values.forks === undefined ? undefined : int(values.forks, '--forks', 1, 10000);
const alsoForks = values['also-forks'] === undefined ? undefined : int(values['also-forks'], '--also-forks', 1, 10000);
const connectTimeout = int(values['connect-timeout']!, '--connect-timeout', 1, 600);
const form = values.form === 'light' || values.form === 'full' ? values.form : fail(`--form must be full or light (got '${values.form}')`);
const direct = values.direct!;
if (direct && (rtt || silentPct)) fail('--direct reaches robots without the relay: no --rtt or --silent');
const TOOLS: Tool[] = ['fleetmasq', 'raw', 'ansible'];
const JOBS: Job[] = ['apply', 'apply-again', 'check', 'reboot'];
let tools = values.tools!.split(',') as Tool[];
const jobs = values.jobs!.split(',') as Job[];
for (const t of tools) if (!TOOLS.includes(t)) fail(`unknown tool '${t}' (tools: ${TOOLS.join(', ')})`);
for (const j of jobs) if (!JOBS.includes(j)) fail(`unknown job '${j}' (jobs: ${JOBS.join(', ')})`);
if (form === 'light' && jobs.includes('reboot')) fail('light robots do not boot: no reboot job with --form light');
const labName = (() => {
  try {
    return checkLabName(values.lab);
  } catch (e) {
    return fail((e as Error).message);
  }
})();
const outDir = resolve(values.out!);
mkdirSync(outDir, { recursive: true });
const log = (s: string) => process.stderr.write(`${s}\n`);

async function hasAnsible(): Promise<boolean> {
  return (await run('sh', ['-c', 'command -v ansible-playbook'], { nothrow: true })).ok;
}

/** Runs a shell command under /usr/bin/time -f and reads wall, CPU and max RSS. */
async function timed(cmd: string, env: NodeJS.ProcessEnv = {}): Promise<Sample> {
  const tf = join(outDir, '.time');
  const r = await run('/usr/bin/time', ['-o', tf, '-f', '%e %U %S %M', 'bash', '-c', cmd], {
    env: { ...process.env, ...env },
    nothrow: true,
    timeoutMs: 30 * 60_000,
  });
  const [e, u, s, m] = readFileSync(tf, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { wall: e!, cpu: u! + s!, rssMb: m! / 1024, ok: r.exitCode === 0, note: r.exitCode === 0 ? undefined : `exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ').slice(0, 200)}` };
}

// ---------- (b) raw OpenSSH fan-out: the equivalent shell ----------
const RULE = 'POSTROUTING -o wlan0 -j MASQUERADE';
const rawCheck = `iptables -w -t nat -S POSTROUTING | grep -cxF -- '-A ${RULE}' | grep -qx 1 && systemctl is-enabled --quiet fleetmasq-masquerade.service`;
const rawApply = `set -e
u=/etc/systemd/system/fleetmasq-masquerade.service
want=${shQuote(renderUnit('wlan0'))}
en=0; systemctl is-enabled --quiet fleetmasq-masquerade.service && en=1
old=0; [ -e $u ] && old=1
if [ "$(cat $u 2>/dev/null)" != "$want" ]; then printf '%s\\n' "$want" > $u.tmp && mv $u.tmp $u && { [ $old = 0 ] || systemctl daemon-reload; }; fi
[ $en = 1 ] || systemctl enable --quiet --no-reload fleetmasq-masquerade.service
iptables -w -t nat -C ${RULE} 2>/dev/null || iptables -w -t nat -A ${RULE}`;
const rawReboot = `h=$1; cfg=$2
old=$(ssh -F $cfg root@$h cat /proc/sys/kernel/random/boot_id) || exit 1
ssh -F $cfg root@$h 'systemd-run --quiet --on-active=1 --timer-property=AccuracySec=100ms /bin/systemctl reboot' || exit 1
end=$(( $(date +%s) + 600 ))
while [ $(date +%s) -lt $end ]; do
  sleep 1
  new=$(ssh -F $cfg -o ConnectTimeout=5 root@$h cat /proc/sys/kernel/random/boot_id 2>/dev/null) || continue
  if [ -n "$new" ] && [ "$new" != "$old" ]; then
    ssh -F $cfg root@$h ${shQuote(rawCheck + ' && test "$(cut -d" " -f1 /run/fleetmasq/boot-marker)" = "$(cat /proc/sys/kernel/random/boot_id)"')} && exit 0
    exit 1
  fi
done
exit 1`;

/** Light robots have no systemd: the equivalent job is the live rule alone (as fleetmasq's external persistence). */
const rawCheckLight = `iptables -w -t nat -S POSTROUTING | grep -cxF -- '-A ${RULE}' | grep -qx 1`;
const rawApplyLight = `iptables -w -t nat -C ${RULE} 2>/dev/null || iptables -w -t nat -A ${RULE}`;

/** The tools run inside the lab's network namespace when --direct (a fleet reached over TCP). */
const inNetns = (lab: LabState, cmd: string) => (direct ? `nsenter --net=/run/netns/${lab.paths.netns} bash -c ${shQuote(cmd)}` : cmd);
const inventoryOf = (lab: LabState) => (direct ? lab.paths.inventoryDirect : lab.paths.inventory);

function rawCmd(lab: LabState, job: Job, n: number): string {
  const hosts = lab.robots.map((r) => r.address).join('\n');
  const cfg = `${direct ? lab.paths.sshConfigDirect : lab.paths.sshConfig} -o ConnectTimeout=${connectTimeout}`;
  if (job === 'reboot') {
    writeFileSync(join(outDir, 'raw-reboot.sh'), rawReboot);
    return `printf '%s\\n' ${shQuote(hosts)} | xargs -P ${forksOpt ?? n} -I{} bash ${join(outDir, 'raw-reboot.sh')} {} ${cfg}`;
  }
  const script = form === 'light' ? (job === 'check' ? rawCheckLight : rawApplyLight) : job === 'check' ? rawCheck : rawApply;
  return `printf '%s\\n' ${shQuote(hosts)} | xargs -P ${forksOpt ?? n} -I{} ssh -F ${cfg} root@{} ${shQuote(script)}`;
}

// ---------- (c) Ansible with its best settings ----------
function ansibleFiles(): Record<Job, string> {
  const dir = join(outDir, 'ansible');
  mkdirSync(dir, { recursive: true });
  const unitFile = join(dir, 'fleetmasq-masquerade.service');
  writeFileSync(unitFile, renderUnit('wlan0'));
  const check = `    - name: rule live exactly once
      ansible.builtin.shell: "iptables -w -t nat -S POSTROUTING | grep -cxF -- '-A ${RULE}' | grep -qx 1"
      changed_when: false
    - name: persistence enabled
      ansible.builtin.command: systemctl is-enabled fleetmasq-masquerade.service
      changed_when: false
`;
  const apply = `    - name: unit
      ansible.builtin.copy: { src: ${unitFile}, dest: /etc/systemd/system/fleetmasq-masquerade.service, mode: "0644" }
    - name: enabled
      ansible.builtin.systemd: { name: fleetmasq-masquerade.service, enabled: true }
    - name: rule
      ansible.builtin.iptables: { table: nat, chain: POSTROUTING, out_interface: wlan0, jump: MASQUERADE }
`;
  const head = '- hosts: all\n  gather_facts: false\n  tasks:\n';
  const liveOnly = (t: string) => t.split('    - name: ').filter((x) => x && !/persistence|unit|enabled/.test(x.split('\n')[0]!)).map((x) => `    - name: ${x}`).join('');
  const files: Record<Job, string> = { check: join(dir, 'check.yml'), apply: join(dir, 'apply.yml'), 'apply-again': join(dir, 'apply.yml'), reboot: join(dir, 'reboot.yml') };
  writeFileSync(files.check, head + (form === 'light' ? liveOnly(check) : check));
  writeFileSync(files.apply, head + (form === 'light' ? liveOnly(apply) : apply));
  writeFileSync(files.reboot, `${head}    - name: reboot\n      ansible.builtin.reboot: { reboot_timeout: 600 }\n${check}    - name: fired at this boot\n      ansible.builtin.shell: 'test "$(cut -d" " -f1 /run/fleetmasq/boot-marker)" = "$(cat /proc/sys/kernel/random/boot_id)"'\n      changed_when: false\n`);
  return files;
}

function command(tool: Tool, job: Job, lab: LabState, n: number, books: Record<Job, string>, forks = forksOpt ?? n): { cmd: string; env?: NodeJS.ProcessEnv } {
  const inv = inventoryOf(lab);
  if (tool === 'fleetmasq') {
    const f = `--forks ${forks} --connect-timeout ${connectTimeout}`;
    const sub = job === 'reboot' ? `reboot -i ${inv} ${f}` : job === 'check' ? `check -i ${inv} ${f}` : `apply -i ${inv} ${f}`;
    // As an operator runs it: bin/fleetmasq.js as a command, so from the start-up snapshot when built.
    return { cmd: inNetns(lab, `${BIN} ${sub} --json > ${join(outDir, 'fleetmasq-last.json')}`), env: { CI: 'true' } };
  }
  if (tool === 'raw') return { cmd: inNetns(lab, `${rawCmd(lab, job, n)} > /dev/null`) };
  return {
    cmd: inNetns(lab, `ansible-playbook -i ${inv} ${books[job]} > ${join(outDir, `ansible-${job}.log`)} 2>&1`),
    // Its best settings: forks = N, pipelining, no facts, and keepalives so a rebooting robot's dead
    // ControlPersist connection is noticed (without them its reboot module hung on 5 of 30 robots here).
    env: { ANSIBLE_SSH_ARGS: '-C -o ControlMaster=auto -o ControlPersist=60s -o ServerAliveInterval=5 -o ServerAliveCountMax=3', ANSIBLE_FORKS: String(forksOpt ?? n), ANSIBLE_PIPELINING: 'True', ANSIBLE_GATHERING: 'explicit', ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: 'False', ANSIBLE_TIMEOUT: String(connectTimeout) },
  };
}

/** Untimed preparation: as many robots at once as the shared cores serve without timeouts. */
const PREP = ['--forks', '100', '--connect-timeout', '60'];

async function reset(lab: LabState): Promise<void> {
  const r = await run('node', [BIN, 'remove', '-i', lab.paths.inventory, ...PREP], { nothrow: true, env: { ...process.env, CI: 'true' } });
  if (r.exitCode !== 0) throw new Error(`reset failed: ${r.stdout}${r.stderr}`);
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: med, min: s[0]!, max: s[s.length - 1]! };
}

const EXTRA = `check --forks ${alsoForks}`;

async function main(): Promise<void> {
  if (tools.includes('ansible') && !(await hasAnsible())) {
    log('ansible-playbook not found: Ansible is skipped (apt-get install ansible-core)');
    tools = tools.filter((t) => t !== 'ansible');
  }
  const books = ansibleFiles();
  const all: Record<string, Record<string, Record<string, Sample[]>>> = {};
  for (const n of sizes) {
    log(`== booting ${n} lab robots (rtt ${rtt} ms)`);
    const lab = await labUp(uniformSpec(labName, n, rtt, form), { log });
    const byTool: Record<string, Record<string, Sample[]>> = {};
    all[n] = byTool;
    let compliant = false;
    try {
      for (let k = 0; k < runs; k++) {
        for (const tool of tools) {
          byTool[tool] ??= {};
          for (const job of jobs) {
            if (job === 'apply') await reset(lab);
            if (job === 'check' && !jobs.includes('apply') && !compliant) {
              // check measures "nothing to do": make the fleet compliant first (not timed).
              // Retried: right after a big lab boots, a robot may miss the 10 s connect timeout while
              // hundreds of key exchanges share the machine's cores.
              for (let attempt = 1; ; attempt++) {
                const a = await run('node', [BIN, 'apply', '-i', lab.paths.inventory, ...PREP], { nothrow: true, env: { ...process.env, CI: 'true' } });
                if (a.exitCode === 0) {
                  // A check changes nothing: the fleet stays compliant for every later check on this lab.
                  compliant = true;
                  break;
                }
                const why = a.stdout.split('\n').filter((l) => /failed|unreachable/.test(l)).join(' | ');
                if (attempt === 3) throw new Error(`untimed apply before check failed 3 times: ${why}`);
                log(`untimed apply before check, attempt ${attempt}: not every robot done, again: ${why.slice(0, 300)}`);
              }
            }
            const { cmd, env } = command(tool, job, lab, n, books);
            // Every (100/P)-th robot goes silent for the timed command only.
            const silent = silentPct ? lab.robots.filter((_, i) => (i * silentPct) % 100 < silentPct).map((r) => r.name) : [];
            for (const r of silent) await labLink(lab, r, { stall: true });
            const s = await timed(cmd, env);
            for (const r of silent) await labLink(lab, r, { stall: false });
            if (!s.ok && tool === 'fleetmasq') {
              // Name the robots that were not ok, and why.
              try {
                const doc = JSON.parse(readFileSync(join(outDir, 'fleetmasq-last.json'), 'utf8'));
                s.note = Object.entries(doc.hosts as Record<string, { status: string; reasons: { text: string }[]; error: { message: string } | null }>)
                  .filter(([, h]) => !['ok', 'changed'].includes(h.status))
                  .map(([n, h]) => `${n}: ${h.error?.message ?? h.reasons.map((x) => x.text).join('; ')}`)
                  .join(' | ')
                  .slice(0, 300);
              } catch {}
            }
            if (silent.length) s.note = `${silent.length} silent robot(s)${s.note ? `; ${s.note}` : ''}`;
            (byTool[tool][job] ??= []).push(s);
            log(`[n=${n} run ${k + 1}/${runs}] ${tool.padEnd(9)} ${job.padEnd(11)} ${s.wall.toFixed(2)} s wall  ${s.cpu.toFixed(2)} s cpu  ${s.rssMb.toFixed(0)} MB${s.ok ? '' : `  FAILED ${s.note}`}`);
          }
        }
        if (alsoForks && jobs.includes('check') && tools.includes('fleetmasq')) {
          const { cmd, env } = command('fleetmasq', 'check', lab, n, books, alsoForks);
          const s = await timed(cmd, env);
          (byTool.fleetmasq![EXTRA] ??= []).push(s);
          log(`[n=${n} run ${k + 1}/${runs}] fleetmasq ${EXTRA} ${s.wall.toFixed(2)} s wall  ${s.cpu.toFixed(2)} s cpu  ${s.rssMb.toFixed(0)} MB${s.ok ? '' : `  FAILED ${s.note}`}`);
        }
      }
    } finally {
      if (!values.keep) await labDown(labName);
    }
  }
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  const table: Record<string, unknown>[] = [];
  for (const [n, byTool] of Object.entries(all)) {
    for (const job of [...jobs, ...(alsoForks && byTool.fleetmasq?.[EXTRA] ? [EXTRA] : [])]) {
      const row: Record<string, unknown> = { robots: Number(n), rttMs: rtt, job, silentPct, forks: job === EXTRA ? alsoForks : (forksOpt ?? Number(n)), form, direct, connectTimeout };
      for (const tool of tools) {
        const xs = byTool[tool]?.[job] ?? [];
        if (!xs.length) continue;
        row[tool] = { wall: stats(xs.map((x) => x.wall)), cpu: stats(xs.map((x) => x.cpu)), rssMb: stats(xs.map((x) => x.rssMb)), failures: xs.filter((x) => !x.ok).length, notes: xs.map((x) => x.note).filter(Boolean) };
      }
      const fmCpu = (row.fleetmasq as { cpu: { median: number } } | undefined)?.cpu.median;
      // Control-side CPU per robot, Node's start included (issue 15's target: <= 8 ms at 1,000 robots).
      if (fmCpu !== undefined) row.fleetmasqCpuPerRobotMs = (fmCpu * 1000) / Number(n);
      const fm = (row.fleetmasq as { wall: { median: number } } | undefined)?.wall.median;
      for (const t of ['raw', 'ansible']) {
        const o = row[t] as { wall: { median: number }; cpu: { median: number } } | undefined;
        if (fm && o) row[`speedup_vs_${t}`] = o.wall.median / fm;
        // Control CPU: how many times less the control side spent than this tool (medians).
        if (fmCpu && o) row[`cpu_ratio_vs_${t}`] = o.cpu.median / fmCpu;
      }
      table.push(row);
    }
  }
  const doc = { date: new Date().toISOString(), machine, runs, rttMs: rtt, silentPct, forks: forksOpt ?? null, form, direct, connectTimeout, sizes, tools, jobs, results: table };
  const stamp = `n${sizes.join('-')}-rtt${rtt}${silentPct ? `-silent${silentPct}` : ''}${forksOpt ? `-f${forksOpt}` : ''}${form === 'light' ? '-light' : ''}${direct ? '-direct' : ''}`;
  writeFileSync(join(outDir, `bench-${stamp}.json`), JSON.stringify(doc, null, 2));
  const lines = [
    '| robots | rtt | job | ' + tools.map((t) => `${t} (median [min–max] s, cpu s, MB)`).join(' | ') + ' | fleetmasq CPU per robot | wall: fleetmasq vs raw | vs Ansible | CPU: fleetmasq vs raw | vs Ansible |',
    '|' + '---|'.repeat(8 + tools.length),
  ];
  for (const r of table) {
    const cells = tools.map((t) => {
      const c = r[t] as { wall: { median: number; min: number; max: number }; cpu: { median: number }; rssMb: { median: number }; failures: number } | undefined;
      return c ? `${c.wall.median.toFixed(2)} [${c.wall.min.toFixed(2)}–${c.wall.max.toFixed(2)}], ${c.cpu.median.toFixed(2)}, ${c.rssMb.median.toFixed(0)}${c.failures ? ` (${c.failures} failed)` : ''}` : '—';
    });
    const sp = (k: string) => (r[k] ? `${(r[k] as number).toFixed(1)}×` : '—');
    const perRobot = r.fleetmasqCpuPerRobotMs === undefined ? '—' : `${(r.fleetmasqCpuPerRobotMs as number).toFixed(1)} ms`;
    lines.push(`| ${r.robots} | ${r.rttMs} ms | ${r.job} | ${cells.join(' | ')} | ${perRobot} | ${sp('speedup_vs_raw')} | ${sp('speedup_vs_ansible')} | ${sp('cpu_ratio_vs_raw')} | ${sp('cpu_ratio_vs_ansible')} |`);
  }
  writeFileSync(join(outDir, `bench-${stamp}.md`), lines.join('\n') + '\n');
  if (sizes.length > 1) writeFileSync(join(outDir, `bench-${stamp}.svg`), chart(table, tools, jobs[0]!));
  process.stdout.write(lines.join('\n') + '\n');
  log(`saved ${join(outDir, `bench-${stamp}.json`)}`);
}

/** Time versus fleet size, one line per tool (SVG). */
export function chart(rows: Record<string, unknown>[], tools: string[], job: string): string {
  const pts = rows.filter((r) => r.job === job);
  const W = 640, H = 360, L = 60, B = 40, T = 30, R = 120;
  const xs = pts.map((p) => p.robots as number);
  const ys = pts.flatMap((p) => tools.map((t) => (p[t] as { wall: { median: number } } | undefined)?.wall.median ?? 0));
  const xMax = Math.max(...xs), yMax = Math.max(...ys) * 1.1 || 1;
  const x = (v: number) => L + (v / xMax) * (W - L - R);
  const y = (v: number) => H - B - (v / yMax) * (H - B - T);
  const colors: Record<string, string> = { fleetmasq: '#2e9d4f', raw: '#2f6fd6', ansible: '#d93b3b' };
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`;
  svg += `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${job}: wall time vs fleet size (median)</text>`;
  svg += `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`;
  for (const v of xs) svg += `<text x="${x(v)}" y="${H - B + 16}" text-anchor="middle">${v}</text>`;
  for (let i = 0; i <= 4; i++) svg += `<text x="${L - 6}" y="${y((yMax * i) / 4) + 4}" text-anchor="end">${((yMax * i) / 4).toFixed(1)}s</text>`;
  svg += `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">robots</text>`;
  tools.forEach((t, i) => {
    const line = pts.map((p) => `${x(p.robots as number)},${y((p[t] as { wall: { median: number } } | undefined)?.wall.median ?? 0)}`).join(' ');
    svg += `<polyline fill="none" stroke="${colors[t] ?? '#555'}" stroke-width="2" points="${line}"/>`;
    svg += `<text x="${W - R + 10}" y="${T + 20 + i * 18}" fill="${colors[t] ?? '#555'}">${t}</text>`;
  });
  return svg + '</svg>\n';
}

main().catch((e) => {
  log(String(e?.stack ?? e));
  process.exitCode = 1;
});
