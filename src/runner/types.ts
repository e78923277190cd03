import type { HostErrorKind } from '../errors.js';
import type { ManagerReport } from '../modules/compliance.js';
import type { FactDetails } from '../facts/facts.js';

export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable' | 'skipped';

/**
 * What a run learned about a robot, for the reports (every field optional: a robot may fail early): what
 * its facts show (declared with each fact: src/facts), and what the commands judged.
 */
export interface HostDetails extends FactDetails {
  interface?: string;
  /** The robot's interfaces a list or wildcard matched when checked. */
  matched?: string[];
  persistence?: 'systemd' | 'rc.local' | 'external';
  ruleCount?: number;
  /** Copies of the rule beyond the first, per interface, summed. */
  duplicates?: number;
  persistenceInstalled?: boolean;
  firedThisBoot?: boolean;
  /** Whether boot persistence's location survives a boot: persistent, volatile, read-only or unknown. */
  root?: import('../facts/storage.js').RootKind;
  /** The robot's other firewall managers and fleetmasq's hook beside each. */
  managers?: ManagerReport[];
  /** When its facts were read (absent: it was never checked). */
  checkedAt?: string;
  checkMode?: boolean;
  /** reboot: the boot before, and how long the robot took to go down and come back. */
  previousBootId?: string;
  downMs?: number | null;
  upMs?: number | null;
  rebootMs?: number;
  /** A playbook's `when: needed` reboot that was not needed, and why. */
  rebootSkipped?: string;
  /** diagnose: the verdict, the attempts and (with --ab) the experiment. */
  diagnosis?: import('../diagnose/verdict.js').Diagnosis;
  /** Skipped because the run stopped (or was interrupted) before this robot's turn: never touched. */
  notStarted?: boolean;
}

/** What a task on one robot produced. */
export interface HostOutcome {
  /** skipped: the task decided not to act on this robot (its reasons say why). */
  status: 'ok' | 'changed' | 'failed' | 'skipped';
  compliant?: boolean;
  /** remove: verified in the same round trip that nothing of fleetmasq's is left on the robot. */
  removed?: boolean;
  changes: string[];
  /** Why the robot is not as it should be (or was skipped): typed, with its words. */
  reasons: ReasonItem[];
  warnings: string[];
  diffs: string[];
  /** Facts worth reporting. */
  details: HostDetails;
  /** What the robot said, kept for a failed or surprising robot (see HostRaw). */
  raw?: HostRaw;
}

/**
 * What a failed or surprising robot said, kept in the run record so it can be read later without
 * contacting the robot: the failing command's stdout and stderr and the raw facts output, each
 * sanitised and bounded to its last 64 KiB (src/util/sanitize.ts keptOutput).
 */
export interface HostRaw {
  stdout?: string;
  stderr?: string;
  /** The facts command's output as the robot sent it (a facts parse failure, a non-compliant robot). */
  facts?: string;
  exitCode?: number | null;
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
  /** round: --until-converged's round (2 on: the same run trying its unreachable robots again). */
  | { type: 'batch'; index: number; total: number; hosts: string[]; round?: number }
  | { type: 'start'; host: string }
  /** elapsedMs: since the robot's start; tookMs: how long its previous step took. */
  | { type: 'step'; host: string; step: string; elapsedMs?: number; tookMs?: number; previous?: string }
  /** Verbose output (-v…-vvv), secrets already redacted. */
  | { type: 'debug'; host?: string; level: 1 | 2 | 3; text: string }
  | { type: 'warn'; host?: string; message: string }
  | { type: 'done'; result: HostResult }
  | { type: 'abort'; reason: string }
  /** --until-converged: robots still unreachable, and when the next attempt is. */
  | { type: 'waiting'; done: number; waiting: number; nextInMs: number; deadlineInMs: number };

/**
 * A reason as it crosses modules and reaches every output: a stable code (scripts match on it, never on
 * the words), the text shown to people, and the code's data (an interface, a count, a manager…).
 */
export interface ReasonItem {
  code: string;
  text: string;
  [data: string]: unknown;
}

/** A reason from its code and words (and its data). */
export function reason(code: string, text: string, data: Record<string, unknown> = {}): ReasonItem {
  return { ...data, code, text };
}

/** The words of a robot's reasons. */
export function reasonTexts(reasons: readonly ReasonItem[]): string[] {
  return reasons.map((r) => r.text);
}

export function emptyOutcome(): HostOutcome {
  return { status: 'ok', changes: [], reasons: [], warnings: [], diffs: [], details: {} };
}

/** A robot that was not acted on, and why. */
export function skippedResult(host: string, why: ReasonItem, details: HostDetails = {}): HostResult {
  return { host, status: 'skipped', changes: [], reasons: [why], warnings: [], diffs: [], details, error: null };
}

/** A robot the run never got to (it stopped, or was interrupted, first). */
export function notStartedResult(host: string, why: string): HostResult {
  return skippedResult(host, reason('not-started', `not started: ${why}`), { notStarted: true });
}

/** The robots worth running again: failed, unreachable, or never started. */
export function retryHosts(results: Iterable<HostResult>): string[] {
  return [...results].filter((r) => r.status === 'failed' || r.status === 'unreachable' || r.details.notStarted).map((r) => r.host);
}
