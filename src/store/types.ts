/**
 * The fleet's memory, as the store answers it: every command's evidence about a robot, newest first.
 * These types cross from src/store to the status command and its pages (HTML, Prometheus, JSON).
 */
import type { HostErrorKind } from '../errors.js';
import type { HostStatus } from '../runner/types.js';

/** What a command verified about a robot's masquerading, in the same round trip as its facts. */
export type EvidenceState = 'compliant' | 'noncompliant' | 'removed';

/** A robot's state in the fleet view: its newest evidence, or why there is none. */
export type RobotState = EvidenceState | 'unknown' | 'never-seen';

export interface Evidence {
  state: EvidenceState;
  /** When the robot was read (its facts), ISO time. */
  at: string;
  command: string;
  runId: string;
  /** user@host of the controller that ran it. */
  controller: string;
}

export interface RobotStatus {
  host: string;
  state: RobotState;
  /** The newest evidence about its masquerading (absent: never judged). */
  evidence?: Evidence;
  /** When it last answered (its facts were read), any command. */
  lastSeen?: string;
  /** The newest result of any command, answered or not. */
  lastResult?: { command: string; status: HostStatus; at: string; runId: string; controller: string; error?: { kind: HostErrorKind; message: string } };
  /** Its boot id when last seen. */
  bootId?: string;
  /** Not seen within the stale limit (or never seen). */
  stale: boolean;
  /** Evidence dated after now (+ clock skew allowance) was found and not believed. */
  futureDated?: boolean;
}

/** One run, as its own recap counted it: compliant robots over every robot it was asked about. */
export interface RunPoint {
  runId: string;
  at: string;
  command: string;
  controller: string;
  /** Every robot the run was asked about (reachable or not). */
  asked: number;
  /** Robots the run verified compliant. */
  compliant: number;
  /** Robots the run judged (verified compliant, non-compliant or removed). */
  judged: number;
  dryRun: boolean;
}

export interface FleetSummary {
  total: number;
  compliant: number;
  noncompliant: number;
  removed: number;
  unknown: number;
  neverSeen: number;
  /** Seen once, but not within the stale limit (each also counted under its state). */
  stale: number;
}

export interface FleetStatus {
  robots: RobotStatus[];
  summary: FleetSummary;
  /** Runs that judged compliance, oldest first (the chart's points). */
  history: RunPoint[];
}

/** One line of a robot's history (status --host), newest first. */
export interface HostHistoryEntry {
  runId: string;
  at: string;
  command: string;
  controller: string;
  status: HostStatus;
  state?: EvidenceState;
  bootId?: string;
  reasons: string[];
  error?: { kind: HostErrorKind; message: string };
}
