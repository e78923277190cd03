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

/** ISO time in one comparable form (the store compares them as text), or undefined when unparsable. */
export function isoTime(t: string | undefined): string | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

export function evidenceOf(command: string, r: HostResult): ResultEvidence {
  const seenAt = isoTime(r.details?.checkedAt);
  const at = seenAt ?? isoTime(r.finishedAt) ?? new Date().toISOString();
  const out: ResultEvidence = { at, ...(seenAt ? { seenAt } : {}), ...(seenAt && r.details?.bootId ? { bootId: r.details.bootId } : {}) };
  if (!seenAt || r.status === 'unreachable') return out;
  // A remove that finished with nothing left is its own state; otherwise the compliance it verified.
  if (command === 'remove' && r.removed === true) return { ...out, state: 'removed' };
  if (r.compliant === true) return { ...out, state: 'compliant' };
  if (r.compliant === false) return { ...out, state: 'noncompliant' };
  return out;
}
