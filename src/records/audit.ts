/** Who ran what: the header of every run record (the line each changed robot writes to its own log: src/remote/audit.ts). */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';

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
