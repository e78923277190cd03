/**
 * A lab's state on this machine (lab.json under its folder) and the processes it left running.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { labPaths } from './paths.js';
import type { LabSpec, RobotPlan } from './spec.js';

export interface LabRobotState extends RobotPlan {
  user: string;
  becomePassword?: string;
  hostKey: string;
}

export interface LabState {
  name: string;
  createdAt: string;
  spec: LabSpec;
  robots: LabRobotState[];
  paths: ReturnType<typeof labPaths>;
}

export function readLab(name: string): LabState | undefined {
  const p = labPaths(name);
  if (!existsSync(p.state)) return undefined;
  const lab = JSON.parse(readFileSync(p.state, 'utf8')) as LabState;
  lab.paths = p;
  return lab;
}

export function listLabs(): string[] {
  const dir = dirname(labPaths('x').dir);
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
