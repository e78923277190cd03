/**
 * Run records: every run appends one JSON line per robot to .fleetmasq/runs/<time>-<command>-<pid>.jsonl
 * as each robot finishes. They are the fleet's memory: `status` answers from them alone. Bounded: only
 * the newest MAX_RUN_FILES files are kept (older ones are deleted when a new run starts).
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { HostResult } from '../runner/types.js';

/** Where run records live: FLEETMASQ_RUNS_DIR, else .fleetmasq/runs under the current folder. */
export function runsDir(): string {
  return process.env.FLEETMASQ_RUNS_DIR || join('.fleetmasq', 'runs');
}
/** Enough for weeks of a sweep every 15 minutes; a file is one run (about 1 KB per robot). */
export const MAX_RUN_FILES = 2000;

export type RecordLine = HostResult & { command: string };

/** A new run's record file (0600 in a 0700 folder: it holds robots' file contents); the oldest beyond the bound go. */
export function newRecordFile(dir: string, command: string, keep = MAX_RUN_FILES): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const files = runFiles(dir);
  for (const f of files.slice(0, Math.max(0, files.length - (keep - 1)))) rmSync(join(dir, f), { force: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return join(dir, `${stamp}-${command}-${process.pid}.jsonl`);
}

/** Record files, oldest first (their names start with an ISO time). */
function runFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  } catch {
    return []; // No runs yet.
  }
}

/** Every record line, oldest run first; a torn last line (a run killed mid-write) is skipped. */
export function readRecords(dir = runsDir()): { file: string; lines: RecordLine[] }[] {
  return runFiles(dir).map((f) => ({
    file: join(dir, f),
    lines: readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .flatMap((l) => {
        if (!l.trim()) return [];
        try {
          const v = JSON.parse(l) as RecordLine & { run?: unknown };
          return v.run !== undefined ? [] : [v]; // The run's header (who, what) is not a robot.
        } catch {
          return []; // A line cut short when its run was killed.
        }
      }),
  }));
}
