/** Who ran what: the header of every run record, and the line each changed robot writes to its own log. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { shQuote } from '../util/quote.js';

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

export function runHeader(argv: string[], inventory: string, version: string): RunHeader {
  let inventorySha256: string | undefined;
  try {
    inventorySha256 = createHash('sha256').update(readFileSync(inventory)).digest('hex');
  } catch {
    // A directory or an unreadable file was refused earlier; nothing to hash.
  }
  return { who: who(), argv, inventory, ...(inventorySha256 ? { inventorySha256 } : {}), version, startedAt: new Date().toISOString() };
}

/** The robot's own log line for a change (journal/syslog, tag fleetmasq); never fails the change. */
export function auditLogSh(changes: string[], by: string, command: string): string {
  const msg = `${command} by ${by}: ${changes.join('; ')}`.slice(0, 900);
  return `command -v logger >/dev/null 2>&1 && logger -t fleetmasq -- ${shQuote(msg)} || true`;
}
