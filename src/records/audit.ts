/** Who ran what: the header of every run record, and the line each changed robot writes to its own log. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { shQuote } from '../util/quote.js';
import { AUDIT_DIR, AUDIT_LOG } from '../remote/paths.js';

export interface RunHeader {
  /** user@controller */
  who: string;
  /** The command line as given (argv after `fleetmasq`); secrets are never on it. */
  argv: string[];
  inventory: string;
  /** sha256 of the inventory file as read for this run. */
  inventorySha256?: string;
  version: string;
  startedAt: string;
}

export function who(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (a container): keep $USER.
  }
  return `${user}@${hostname()}`;
}

export function runHeader(argv: string[], sources: string | string[], version: string): RunHeader {
  const list = Array.isArray(sources) ? sources : [sources];
  let inventorySha256: string | undefined;
  try {
    // Every file source's bytes, in order (a host list has none; an executable's are its code).
    const h = createHash('sha256');
    for (const s of list) h.update(readFileSync(s));
    inventorySha256 = h.digest('hex');
  } catch {
    // A host list, a directory or an unreadable file: nothing to hash.
  }
  return { who: who(), argv, inventory: list.join(','), ...(inventorySha256 ? { inventorySha256 } : {}), version, startedAt: new Date().toISOString() };
}

/** The audit log is rotated (to audit.log.1, by a rename) when it reaches this size. */
export const AUDIT_MAX_BYTES = 1 << 20;

/**
 * The robot's own record of a change, in two places; never fails the change (a read-only /var/log, no
 * logger). Signature kept for callers (a change script; diagnose --ab's off/on/restored lines):
 * - the audit log (AUDIT_LOG): appended by root, in a folder only root may enter (0700) and a file only
 *   root may write (0600), each line written whole by one append and synced. A robot user cannot add a
 *   line there, which they can to syslog: this is the record to trust. A folder or file that is not
 *   root's, or is a symbolic link, is not written to.
 * - the journal/syslog (tag fleetmasq), for the robot's usual log tools. Any user can send a line with
 *   that tag; journald stamps the sender's uid, so only `journalctl SYSLOG_IDENTIFIER=fleetmasq _UID=0`
 *   is fleetmasq's (plain syslog files cannot tell).
 * Control characters in the message become spaces: one change is one line, never two.
 */
export function auditLogSh(changes: string[], by: string, command: string): string {
  const msg = `${command} by ${by}: ${changes.join('; ')}`.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 900);
  const d = AUDIT_DIR;
  const f = AUDIT_LOG;
  return `{ fm_am=${shQuote(msg)}
command -v logger >/dev/null 2>&1 && logger -t fleetmasq -- "$fm_am"
( umask 077
  [ -d ${d} ] || mkdir -m 700 ${d}
  [ -d ${d} ] && [ ! -L ${d} ] && [ -O ${d} ] && chmod 700 ${d} && [ ! -L ${f} ] && { [ ! -e ${f} ] || [ -O ${f} ]; } &&
  { [ "$(wc -c < ${f} 2>/dev/null || echo 0)" -lt ${AUDIT_MAX_BYTES} ] || mv -f ${f} ${f}.1; } &&
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$fm_am" >> ${f} && chmod 600 ${f} && { sync ${f} 2>/dev/null || sync; }
); } || true`;
}
