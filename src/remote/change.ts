/**
 * The one change script a robot runs for a plan: its lock taken, the facts re-read and compared with
 * those the plan came from, the plan's steps, the audit line, the lock let go; then the facts again.
 */
import { createHash } from 'node:crypto';
import { FACTS_SCRIPT } from '../facts/facts.js';
import { auditLogSh } from './audit.js';
import { lockSh, renderScript, unlockSh, type LockSpec, type Step } from './script.js';

/** What a plan was made from: the facts' bytes less the clock line (`@now=`), as freshFactsSh hashes them on the robot. */
export function hashOfFacts(stdout: string): string {
  return createHash('sha256').update(stdout.split('\n').filter((l) => !l.startsWith('@now=')).join('\n')).digest('hex');
}

/**
 * Once a change holds the lock, the facts are read again on the robot and compared with those the plan
 * was made from; if another run changed the robot in between, the lock is let go and the change does
 * nothing (`@@FM stale`, exit 76): the controller plans again from fresh facts.
 */
export function freshFactsSh(hash: string, unlock: string): string {
  return `fm_h=$( { sh -s <<'FMFACTS'
${FACTS_SCRIPT}
FMFACTS
} 2>/dev/null | grep -v '^@now=' | sha256sum )
if [ "\${fm_h%% *}" != ${hash} ]; then ${unlock}; fm_say "@@FM stale"; exit 76; fi`;
}

export interface ChangeOptions {
  /** The robot's lock, held for the script's run (let go however it ends: until 'exit'). */
  lock?: LockSpec;
  /** hashOfFacts of the facts the plan came from (with a lock: a robot changed since is `@@FM stale`). */
  factsHash?: string;
  /** The robot's audit line: the plan's changes in words, who ran it, which command. */
  audit?: { changes: string[]; by: string; command: string };
}

/** The change script for a plan's steps, with the facts gathered after it in the same round trip. */
export function changeScript(steps: Step[], o: ChangeOptions): string {
  const lock = o.lock;
  return renderScript(
    [
      ...(lock ? [{ name: 'lock', sh: lockSh(lock) }] : []),
      ...(lock && o.factsHash ? [{ name: 'fresh', sh: freshFactsSh(o.factsHash, unlockSh(lock.runId)) }] : []),
      ...steps,
      ...(o.audit ? [{ name: 'audit', sh: auditLogSh(o.audit.changes, o.audit.by, o.audit.command) }] : []),
      ...(lock ? [{ name: 'unlock', sh: unlockSh(lock.runId) }] : []),
    ],
    FACTS_SCRIPT,
  );
}
