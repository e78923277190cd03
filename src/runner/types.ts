import type { HostErrorKind } from '../errors.js';

export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable' | 'skipped';

/** What a task on one robot produced. */
export interface HostOutcome {
  /** skipped: the task decided not to act on this robot (its reasons say why). */
  status: 'ok' | 'changed' | 'failed' | 'skipped';
  compliant?: boolean;
  changes: string[];
  reasons: string[];
  warnings: string[];
  diffs: string[];
  /** Facts worth reporting: interface, backend, persistence, boot_id, times... */
  details: Record<string, unknown>;
}

export interface HostResult extends Omit<HostOutcome, 'status'> {
  host: string;
  status: HostStatus;
  error: { kind: HostErrorKind; message: string } | null;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
}

export type RunEvent =
  | { type: 'batch'; index: number; total: number; hosts: string[] }
  | { type: 'start'; host: string }
  | { type: 'step'; host: string; step: string }
  | { type: 'warn'; host?: string; message: string }
  | { type: 'done'; result: HostResult }
  | { type: 'abort'; reason: string };

export function emptyOutcome(): HostOutcome {
  return { status: 'ok', changes: [], reasons: [], warnings: [], diffs: [], details: {} };
}

/** A robot that was not acted on, and why. */
export function skippedResult(host: string, why: string): HostResult {
  return { host, status: 'skipped', changes: [], reasons: [why], warnings: [], diffs: [], details: {}, error: null };
}
