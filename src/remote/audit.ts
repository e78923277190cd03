/** The line each changed robot writes to its own log (who ran what: src/records/audit.ts). */
import { AUDIT_DIR, AUDIT_LOG } from './paths.js';
import { shQuote } from './quote.js';

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
