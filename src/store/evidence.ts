/**
 * What a result proves about a robot (pure). Every command that read the robot records what it verified
 * there: check, verify and reboot judge compliance; apply judges it in the same round trip as its change;
 * remove proves the robot clean ('removed') or says what is left; diagnose judges from its facts and what
 * the network showed. A result without facts (unreachable, failed before reading) proves nothing and
 * leaves the robot's last known state as it was.
 */
import type { HostResult } from '../runner/types.js';
import type { EvidenceState } from './types.js';

export interface ResultEvidence {
  /** When the robot was read: its facts' time, else the result's end. */
  at: string;
  /** Its state as verified, if this result verified one. */
  state?: EvidenceState;
  /** Set when the robot answered (its facts were read). */
  seenAt?: string;
  bootId?: string;
}

/** ISO time in one comparable form (the store compares them as text), or undefined when unparsable or outside 1970–9999. */
export function isoTime(t: string | undefined): string | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) && ms >= 0 && ms < MAX_MS ? new Date(ms).toISOString() : undefined;
}
const MAX_MS = Date.UTC(10000, 0, 1);

/** Commands that change robots: a failure part-way leaves the robot's state unverified. */
const CHANGES: ReadonlySet<string> = new Set(['apply', 'remove', 'reboot', 'play', 'masquerade', 'persist']);
/** Failures that can come after a change began (not: unreachable before it, refused, locked, misconfigured). */
const MID_CHANGE: ReadonlySet<string> = new Set(['command', 'timeout', 'interrupted', 'reboot-timeout']);

export function evidenceOf(command: string, r: HostResult, dryRun = false): ResultEvidence {
  const seenAt = isoTime(r.details?.checkedAt);
  const at = seenAt ?? isoTime(r.finishedAt) ?? new Date().toISOString();
  const out: ResultEvidence = { at, ...(seenAt ? { seenAt } : {}), ...(seenAt && r.details?.bootId ? { bootId: r.details.bootId } : {}) };
  // A change that failed part-way without verifying the robot: whatever it was before is no longer known.
  if (!dryRun && CHANGES.has(command) && r.error && MID_CHANGE.has(r.error.kind) && r.compliant === undefined) return { ...out, state: 'unknown' };
  if (!seenAt || r.status === 'unreachable') return out;
  // A remove (or a playbook's) that finished with nothing left is its own state; otherwise what was verified.
  if (r.removed === true) return { ...out, state: 'removed' };
  if (r.compliant === true) return { ...out, state: 'compliant' };
  if (r.compliant === false) return { ...out, state: 'noncompliant' };
  return out;
}
