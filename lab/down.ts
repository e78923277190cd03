/**
 * `lab down`: everything a lab created removed, even when its state file is gone.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../src/util/proc.js';
import { shQuote } from '../src/util/quote.js';
import type { Log } from './host.js';
import { CGROUP_PARENT, labPaths } from './paths.js';
import { alive, readLab, readPid } from './state.js';

export async function netnsExists(ns: string): Promise<boolean> {
  return existsSync(`/run/netns/${ns}`);
}

/** Processes that belong to a lab: its supervisors, containers and relay (by cgroup and by command line). */
function labPids(name: string): number[] {
  const p = labPaths(name);
  const pids = new Set<number>();
  for (const h of ['systemd', 'unified']) {
    const root = `/sys/fs/cgroup/${h}/${CGROUP_PARENT}/${name}`;
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      try {
        for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line.trim()) pids.add(Number(line));
      } catch {
        // The cgroup went away while walking: nothing of it to kill.
      }
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    };
    walk(root);
  }
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(`${p.dir}/`)) pids.add(Number(e));
      // A light robot's sshd and what it runs: chrooted into the robot's root under the lab's directory.
      else if (readlinkSync(`/proc/${e}/root`).startsWith(`${p.dir}/`)) pids.add(Number(e));
    } catch {
      // The process ended while listing /proc.
    }
  }
  pids.delete(process.pid);
  return [...pids];
}

type LabPaths = ReturnType<typeof labPaths>;

/** Removes everything a lab created: containers, processes, mounts, veths, netns, cgroups, files. */
export async function labDown(name: string, opts: { log?: Log } = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  const p = labPaths(name);
  const lab = readLab(name);
  await powerOff(p);
  await killLeftovers(name, p);
  await unmountAll(p);
  await deleteNamespaces(p);
  for (const r of lab?.robots ?? []) rmSync(`/run/systemd/nspawn/propagate/${r.machine}`, { recursive: true, force: true });
  await removeCgroups(name);
  rmSync(p.dir, { recursive: true, force: true });
  log(`lab '${name}' is down`);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** A clean power-off first: SIGTERM the supervisors, which SIGTERM nspawn; waits up to 20 s for them. */
async function powerOff(p: LabPaths): Promise<void> {
  const sups: number[] = [];
  if (existsSync(join(p.dir, 'robots'))) {
    for (const r of readdirSync(join(p.dir, 'robots'))) {
      const pid = readPid(join(p.robotDir(r), 'supervisor.pid'));
      if (pid && alive(pid)) {
        sups.push(pid);
        signal(pid, 'SIGTERM');
      }
    }
  }
  const until = Date.now() + 20_000;
  while (sups.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
}

/** Then anything left, by force (in rounds: a reboot loop may have just spawned a child), and the relay. */
async function killLeftovers(name: string, p: LabPaths): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const left = labPids(name);
    if (!left.length) break;
    for (const pid of left) signal(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
  }
  const relay = readPid(p.relayPid);
  if (relay && alive(relay)) signal(relay, 'SIGKILL');
}

/** Mounts under the lab's folder, deepest first (lazily when busy). */
async function unmountAll(p: LabPaths): Promise<void> {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === p.dir || m.startsWith(`${p.dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    const r = await run('umount', [m], { nothrow: true });
    if (!r.ok) await run('umount', ['-l', m], { nothrow: true });
  }
}

/** The lab's namespace, and its light robots' (found by name: also those of a lab whose state file is gone). */
async function deleteNamespaces(p: LabPaths): Promise<void> {
  if (await netnsExists(p.netns)) await run('ip', ['netns', 'del', p.netns], { nothrow: true });
  const robotNs = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(p.robotNetnsPrefix)) : [];
  if (robotNs.length) await run('ip', ['-force', '-batch', '-'], { input: robotNs.map((n) => `netns del ${n}\n`).join(''), nothrow: true });
}

async function removeCgroups(name: string): Promise<void> {
  for (const h of ['systemd', 'unified']) {
    const root = `/sys/fs/cgroup/${h}/${CGROUP_PARENT}/${name}`;
    await run('sh', ['-c', `[ -d ${shQuote(root)} ] && find ${shQuote(root)} -depth -type d -exec rmdir {} + ; true`], { nothrow: true });
    // The shared parent goes too when no other lab uses it.
    await run('rmdir', [`/sys/fs/cgroup/${h}/${CGROUP_PARENT}`], { nothrow: true });
  }
}
