/**
 * Test helpers for the lab: each test file boots its own robots once (unique lab name), shares them
 * between its tests, and removes them at the end. Claims are checked with the system's OpenSSH client
 * (labSsh), independently of fleetmasq's own transport.
 */
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { labDown, labSsh, labUp, type LabState } from '../../src/lab/lab.js';
import { parseLabSpec, type LabSpec } from '../../src/lab/spec.js';

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
