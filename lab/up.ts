/**
 * `lab up`: boot a lab from its spec.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import pLimit from 'p-limit';
import { LabError } from '../src/errors.js';
import { run, sh } from '../src/util/proc.js';
import { shQuote } from '../src/util/quote.js';
import { renderLabInventory, renderLabSshConfig } from './access.js';
import { labDown, netnsExists } from './down.js';
import { ensureBase, ensureLayer, ensurePackages, prepareHost, type Log } from './host.js';
import { CGROUP_PARENT, labPaths } from './paths.js';
import { lightSetupScript, lightSshdScript, robotPrepScript } from './robot-setup.js';
import { hotspotAddress, planLab, type LabSpec, type RobotPlan } from './spec.js';
import type { LabRobotState, LabState } from './state.js';
import { SUPERVISOR_SCRIPT } from './supervise.sh.js';

const here = dirname(fileURLToPath(import.meta.url));

async function sshKeygen(path: string, comment: string): Promise<string> {
  rmSync(path, { force: true });
  rmSync(`${path}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

function randomPassword(): string {
  const a = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  let s = '';
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  for (const b of bytes) s += a[b % a.length];
  return s;
}

function spawnDetached(cmd: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  return child.pid!;
}

/** Waits until sshd answers on the robot's relay socket (its banner), or the deadline passes. */
function waitForSshBanner(sock: string, deadline: number): Promise<boolean> {
  return new Promise((resolve) => {
    const attempt = () => {
      if (Date.now() > deadline) return resolve(false);
      const s = connect(sock);
      let buf = '';
      const retry = () => {
        s.destroy();
        setTimeout(attempt, 250);
      };
      s.setTimeout(3000, retry);
      s.on('error', retry);
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.startsWith('SSH-')) {
          s.destroy();
          resolve(true);
        }
      });
      s.on('end', retry);
    };
    attempt();
  });
}

export interface UpOptions {
  log?: Log;
  /** Boot timeout for the whole fleet, ms. */
  timeoutMs?: number;
}

type LabPaths = LabState['paths'];

/** Boots a lab from a spec. An existing lab with that name is replaced. */
export async function labUp(spec: LabSpec, opts: UpOptions = {}): Promise<LabState> {
  const log = opts.log ?? (() => {});
  const base = await prepareMachine(log);
  await replaceExisting(spec.name, log);
  const p = labPaths(spec.name);
  mkdirSync(p.sockDir, { recursive: true });
  chmodSync(p.dir, 0o700);
  const plans = planLab(spec);
  log(`booting ${plans.length} robot(s) in lab '${spec.name}'`);
  await createNetwork(p);
  const pubKey = await sshKeygen(p.key, `fleetmasq-lab-${spec.name}`);
  writeFileSync(p.supervisor, SUPERVISOR_SCRIPT, { mode: 0o755 });
  const lowerOf = await ensureRoots(plans, base, log);
  const robots = await prepareRobots(plans, p, lowerOf, pubKey);
  const lab: LabState = { name: spec.name, createdAt: new Date().toISOString(), spec, robots, paths: p };
  writeLabFiles(lab);
  startRelay(lab);
  await startHotspots(lab);
  powerOn(lab);
  await waitUntilUp(lab, Date.now() + (opts.timeoutMs ?? 60_000 + 2_000 * robots.length));
  log(`lab '${spec.name}' is up: ${robots.length} robot(s); inventory ${p.inventory}`);
  return lab;
}

/** This machine's packages and knobs, and the cached base root (returned). */
async function prepareMachine(log: Log): Promise<string> {
  await ensurePackages(log);
  await prepareHost();
  return ensureBase(log);
}

async function replaceExisting(name: string, log: Log): Promise<void> {
  if (existsSync(labPaths(name).dir) || (await netnsExists(labPaths(name).netns))) {
    log(`replacing existing lab '${name}'`);
    await labDown(name, { log });
  }
}

/** The lab's network namespace, with no route out, and its bridge (the robots' LAN, 10.77.0.0/16). */
async function createNetwork(p: LabPaths): Promise<void> {
  await sh(`
    ip netns add ${p.netns}
    ip -n ${p.netns} link set lo up
    ip -n ${p.netns} link add ${p.bridge} type bridge
    ip -n ${p.netns} addr add 10.77.0.1/16 dev ${p.bridge}
    ip -n ${p.netns} link set ${p.bridge} up
  `);
}

/**
 * The package layers a robot's root stacks over its base. An nftables-only robot: the nftables package
 * (its layer), iptables deleted at preparation.
 */
function layersOf(r: RobotPlan) {
  return [...new Set([...(r.manager ? [r.manager] : []), ...(r.iptables === 'none' ? (['nftables'] as const) : []), ...(r.userland ? [r.userland] : [])])];
}

/** Every package layer and base the robots need, cached; returns each robot's overlay lowerdir. */
async function ensureRoots(plans: RobotPlan[], base: string, log: Log): Promise<(plan: RobotPlan) => string> {
  const layers = new Map<string, string>();
  for (const m of new Set(plans.flatMap(layersOf))) layers.set(m, await ensureLayer(m, log));
  const bases = new Map<string, string>([['bookworm', base]]);
  for (const os of new Set(plans.flatMap((r) => (r.os && r.os !== 'bookworm' ? [r.os] : [])))) bases.set(os, await ensureBase(log, os));
  return (plan) => [...layersOf(plan).map((m) => layers.get(m)!), bases.get(plan.os ?? 'bookworm')!].join(':');
}

/** Every robot's root prepared (8 at a time), in the spec's order. */
async function prepareRobots(plans: RobotPlan[], p: LabPaths, lowerOf: (plan: RobotPlan) => string, pubKey: string): Promise<LabRobotState[]> {
  const byName = new Map(plans.map((r) => [r.name, r]));
  const limit = pLimit(8);
  const robots = await Promise.all(
    plans.map((plan) =>
      limit(() => {
        if (plan.form === 'light') return prepareLightRobot(plan, p, lowerOf(plan), pubKey);
        const bastion = plan.onlyVia ? byName.get(plan.onlyVia)!.address : undefined;
        return prepareFullRobot(plan, p, lowerOf(plan), pubKey, bastion);
      }),
    ),
  );
  return robots.sort((a, b) => a.index - b.index);
}

/** A robot's login: root, or the user robot with sudo (a random password for sudo-password). */
function robotState(plan: RobotPlan, hostKey: string): LabRobotState {
  return { ...plan, user: plan.login === 'root' ? 'root' : 'robot', hostKey, ...(plan.login === 'sudo-password' ? { becomePassword: randomPassword() } : {}) };
}

/** The prep script's input: the robot user's password for chpasswd, when it has one. */
function passwordInput(state: LabRobotState): string | undefined {
  return state.becomePassword ? `robot:${state.becomePassword}\n` : undefined;
}

/** A light robot: its namespace, root and sshd in one script (its sshd is running when it ends). */
async function prepareLightRobot(plan: RobotPlan, p: LabPaths, lower: string, pubKey: string): Promise<LabRobotState> {
  const d = p.robotDir(plan.name);
  const state = robotState(plan, '');
  const ns = p.robotNetns(plan.machine);
  await sh(`${lightSetupScript(plan, d, lower, ns, p.netns)}\n${robotPrepScript(state, join(d, 'root'), pubKey)}\n${lightSshdScript(d, ns)}`, {
    input: passwordInput(state),
  });
  state.hostKey = readFileSync(join(d, 'ssh_host_ed25519_key.pub'), 'utf8').trim();
  return state;
}

/** A full robot: its overlay root mounted, its own host key installed, its root prepared (it boots later). */
async function prepareFullRobot(plan: RobotPlan, p: LabPaths, lower: string, pubKey: string, bastion: string | undefined): Promise<LabRobotState> {
  const d = p.robotDir(plan.name);
  const root = join(d, 'root');
  for (const sub of ['upper', 'work', 'root']) mkdirSync(join(d, sub), { recursive: true });
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${join(d, 'upper')},workdir=${join(d, 'work')}`, root]);
  const hostKey = await sshKeygen(join(d, 'ssh_host_ed25519_key'), plan.name);
  await sh(`install -m 600 ${shQuote(join(d, 'ssh_host_ed25519_key'))} ${shQuote(root)}/etc/ssh/ssh_host_ed25519_key
                  install -m 644 ${shQuote(join(d, 'ssh_host_ed25519_key.pub'))} ${shQuote(root)}/etc/ssh/ssh_host_ed25519_key.pub`);
  const state = robotState(plan, hostKey);
  await sh(robotPrepScript(state, root, pubKey, bastion), { input: passwordInput(state) });
  return state;
}

/** The lab's state, known_hosts, inventories and ssh configs (through the relay, and direct). */
function writeLabFiles(lab: LabState): void {
  const p = lab.paths;
  writeFileSync(p.state, JSON.stringify(lab, null, 2), { mode: 0o600 });
  writeFileSync(p.knownHosts, lab.robots.map((r) => `${r.address} ${r.hostKey.split(' ').slice(0, 2).join(' ')}\n`).join(''));
  writeFileSync(p.inventory, renderLabInventory(lab));
  writeFileSync(p.inventoryDirect, renderLabInventory(lab, { direct: true }));
  writeFileSync(p.sshConfig, renderLabSshConfig(lab));
  writeFileSync(p.sshConfigDirect, renderLabSshConfig(lab, { direct: true }));
}

/** The link relay, inside the lab's namespace (relayd.ts). */
function startRelay(lab: LabState): void {
  const p = lab.paths;
  writeFileSync(
    p.relayConfig,
    JSON.stringify({
      sockDir: p.sockDir,
      ctlSocket: p.ctlSocket,
      robots: lab.robots.map((r) => ({ name: r.name, address: r.address, rttMs: r.rttMs })),
    }),
  );
  const relayPid = spawnDetached('nsenter', [`--net=/run/netns/${p.netns}`, process.execPath, join(here, 'relayd.js'), p.relayConfig], p.relayLog);
  writeFileSync(p.relayPid, String(relayPid));
}

/** Model hotspots (a defective or healthy uplink per robot that has one), each on its own bridge address. */
async function startHotspots(lab: LabState): Promise<void> {
  const p = lab.paths;
  const withHotspot = lab.robots.filter((r) => r.hotspot);
  if (!withHotspot.length) return;
  await sh(withHotspot.map((r) => `ip -n ${p.netns} addr add ${hotspotAddress(r.index)}/16 dev ${p.bridge}`).join('\n'));
  const cfgFile = join(p.dir, 'hotspots.json');
  writeFileSync(
    cfgFile,
    JSON.stringify({
      log: join(p.dir, 'hotspots.log'),
      hotspots: withHotspot.map((r) => ({
        name: r.name,
        listen: hotspotAddress(r.index),
        port: 3478,
        lan: `${r.address}/32`,
        p: r.hotspot === 'defective' ? 0.8 : 0,
        seed: r.index + 1,
        firstPublic: 10 + r.index,
      })),
    }),
  );
  spawnDetached('nsenter', [`--net=/run/netns/${p.netns}`, process.execPath, join(here, 'hotspotd.js'), cfgFile], join(p.dir, 'hotspotd.out'));
}

/** Powers the full robots on, each under its supervisor (a light robot's sshd is already running). */
function powerOn(lab: LabState): void {
  const p = lab.paths;
  for (const r of lab.robots.filter((r) => r.form !== 'light')) {
    const d = p.robotDir(r.name);
    // detached: the supervisor gets its own session, outliving this CLI.
    const pid = spawnDetached(
      p.supervisor,
      [lab.name, r.name, r.machine, join(d, 'root'), p.netns, p.bridge, join(d, 'state'), r.onReboot, CGROUP_PARENT, r.volatile ? 'overlay' : 'no'],
      join(d, 'console.log'),
    );
    writeFileSync(join(d, 'supervisor.pid'), String(pid));
  }
}

/**
 * Waits for the robots' sshd banners through the relay. Light robots: their sshd started before the
 * script that started it ended; the first and the last are asked (asking a thousand would cost a
 * thousand sshd forks).
 */
async function waitUntilUp(lab: LabState, deadline: number): Promise<void> {
  const p = lab.paths;
  const full = lab.robots.filter((r) => r.form !== 'light');
  const light = lab.robots.filter((r) => r.form === 'light');
  const probe = [...full, ...new Set([light[0], light[light.length - 1]].filter((r): r is LabRobotState => !!r))];
  const results = await Promise.all(probe.map((r) => waitForSshBanner(join(p.sockDir, `${r.address}-22`), deadline)));
  const late = probe.filter((_, i) => !results[i]).map((r) => r.name);
  if (late.length) throw new LabError(`robots did not come up in time: ${late.join(', ')} (see ${p.dir}/robots/*/console.log)`);
}
