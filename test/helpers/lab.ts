/**
 * Test helpers for the lab: each test file boots its own robots once (unique lab name), shares them
 * between its tests, and removes them at the end. Claims are checked with the system's OpenSSH client
 * (labSsh), independently of fleetmasq's own transport.
 */
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { labDown, labSsh, labUp, type LabState } from '../../lab/lab.js';
import { parseLabSpec, type LabSpec } from '../../lab/spec.js';

export const canRunLab = process.getuid?.() === 0;

export function specFile(path: string, name: string): LabSpec {
  return { ...parseLabSpec(readFileSync(path, 'utf8'), path), name };
}

/** Boots the lab before the file's tests and tears it down after them. */
export function useLab(spec: LabSpec, setup?: (lab: LabState) => Promise<void>): { lab: () => LabState } {
  let lab: LabState | undefined;
  before(async () => {
    lab = await labUp(spec);
    if (setup) await setup(lab);
  });
  after(async () => {
    await labDown(spec.name);
  });
  return {
    lab: () => {
      if (!lab) throw new Error('lab not up');
      return lab;
    },
  };
}

export async function sshOut(lab: LabState, robot: string, cmd: string, input?: string): Promise<string> {
  return (await labSsh(lab, robot, cmd, { input })).stdout;
}

export async function bootId(lab: LabState, robot: string): Promise<string> {
  return (await sshOut(lab, robot, 'cat /proc/sys/kernel/random/boot_id')).trim();
}

/** Polls until the robot answers with a boot_id different from `old` (or the deadline passes). */
export async function waitNewBoot(lab: LabState, robot: string, old: string, timeoutMs = 90_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const r = await labSsh(lab, robot, 'cat /proc/sys/kernel/random/boot_id', { nothrow: true, timeoutMs: 10_000 });
    const id = r.stdout.trim();
    if (r.ok && /^[0-9a-f-]{36}$/.test(id) && id !== old) return id;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${robot} did not come back with a new boot_id within ${timeoutMs} ms`);
}

/** The local address a robot sends from, as WebRTC host candidates do: not its uplink's own. */
export const CANDIDATE_ADDR = '192.168.77.1';

/**
 * What the network sees: the robot sends UDP datagrams out of its uplink from a socket bound to a local
 * address that is not the uplink's (CANDIDATE_ADDR on lo), to a listener on the lab bridge; returns the
 * source address that arrives there: the robot's uplink address when masquerading is in effect,
 * CANDIDATE_ADDR when it is not.
 */
export async function observedSource(lab: LabState, robot: string): Promise<string> {
  const { spawn } = await import('node:child_process');
  const port = 20000 + Math.floor(Math.random() * 30000);
  const listener = spawn('nsenter', [
    `--net=/run/netns/${lab.paths.netns}`,
    process.execPath,
    '-e',
    `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>{console.log('from '+r.address);process.exit(0)});` +
      `s.bind(${port},'10.77.0.1',()=>console.log('ready'));setTimeout(()=>{console.log('timeout');process.exit(0)},15000);`,
  ]);
  let out = '';
  const ready = new Promise<void>((res) => listener.stdout.on('data', (d) => ((out += d), out.includes('ready') && res())));
  const done = new Promise<string>((res) => listener.on('close', () => res(out)));
  await ready;
  await labSsh(
    lab,
    robot,
    `ip addr replace ${CANDIDATE_ADDR}/32 dev lo && python3 -c "import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('${CANDIDATE_ADDR}',0))
for _ in range(5): s.sendto(b'webrtc?',('10.77.0.1',${port})); time.sleep(0.2)"`,
  );
  const got = /from (\S+)/.exec(await done)?.[1];
  if (!got) throw new Error(`no datagram from ${robot} arrived at the lab listener`);
  return got;
}
