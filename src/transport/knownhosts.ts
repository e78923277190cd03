/**
 * OpenSSH known_hosts (pure): plain and hashed (`|1|salt|hmac`) host fields, comma lists, `[host]:port`,
 * wildcards and negation, and the @revoked marker (@cert-authority lines are skipped).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { sshWildcard } from './sshconfig.js';

export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority';
  hosts: string;
  keyType: string;
  key: string; // base64 blob
  file?: string;
  line?: number;
}

export type HostKeyVerdict =
  | { status: 'match'; entry: KnownHostEntry }
  | { status: 'mismatch'; known: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry }
  | { status: 'unknown' };

export function parseKnownHosts(text: string, file?: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (parts[0] === '@revoked' || parts[0] === '@cert-authority') marker = parts.shift() as KnownHostEntry['marker'];
    if (parts.length < 3) return;
    out.push({ marker, hosts: parts[0]!, keyType: parts[1]!, key: parts[2]!, file, line: i + 1 });
  });
  return out;
}

/** The name known_hosts uses for a host and port. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcard(pattern: string, name: string): boolean {
  return sshWildcard(pattern).test(name);
}

/** Whether a host field (comma list, hashed or plain, with !negation) covers `name`. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!')) {
      if (wildcard(p.slice(1), name)) return false;
    } else if (wildcard(p, name)) matched = true;
  }
  return matched;
}

export function hashHostName(name: string, salt = randomBytes(20)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

/** Key type from an SSH public key blob (its first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

export function verifyHostKey(entries: KnownHostEntry[], name: string, blob: Buffer): HostKeyVerdict {
  const key = blob.toString('base64');
  const type = keyTypeOfBlob(blob);
  const mine = entries.filter((e) => e.marker !== '@cert-authority' && hostFieldMatches(e.hosts, name));
  const revoked = entries.find((e) => e.marker === '@revoked' && e.key === key);
  if (revoked) return { status: 'revoked', entry: revoked };
  const match = mine.find((e) => !e.marker && e.key === key && e.keyType === type);
  if (match) return { status: 'match', entry: match };
  const known = mine.filter((e) => !e.marker);
  if (known.length) return { status: 'mismatch', known };
  return { status: 'unknown' };
}

/**
 * known_hosts entries indexed for lookups by host name: a robot's candidates are the entries naming it
 * exactly (a map), the revoked ones, and those that need matching (hashed, wildcards, negation), in file
 * order. verifyHostKey and knownKeyTypes give the same answers on the candidates as on every entry; a
 * fleet of N robots with N known_hosts lines then costs N lookups, not N² pattern matches (measured at
 * 1,000 robots: each connection compiled two regular expressions per line).
 */
export interface KnownHostsIndex {
  candidates(name: string): KnownHostEntry[];
}

export function indexKnownHosts(entries: KnownHostEntry[]): KnownHostsIndex {
  const byName = new Map<string, number[]>();
  const always: number[] = [];
  const scan: number[] = [];
  entries.forEach((e, i) => {
    if (e.marker === '@cert-authority') return;
    if (e.marker === '@revoked') always.push(i);
    else if (e.hosts.startsWith('|') || /[*?!]/.test(e.hosts)) scan.push(i);
    else
      for (const n of new Set(e.hosts.split(','))) {
        const l = byName.get(n);
        if (l) l.push(i);
        else byName.set(n, [i]);
      }
  });
  return {
    candidates(name: string): KnownHostEntry[] {
      const idx = [...always, ...(byName.get(name) ?? [])];
      for (const i of scan) if (hostFieldMatches(entries[i]!.hosts, name)) idx.push(i);
      return idx.sort((a, b) => a - b).map((i) => entries[i]!);
    },
  };
}

/** Key types known for a host, to ask the server for those first (as OpenSSH does). */
export function knownKeyTypes(entries: KnownHostEntry[], name: string): string[] {
  return [...new Set(entries.filter((e) => !e.marker && hostFieldMatches(e.hosts, name)).map((e) => e.keyType))];
}

export function knownHostsLine(name: string, blob: Buffer, hashed = false): string {
  return `${hashed ? hashHostName(name) : name} ${keyTypeOfBlob(blob)} ${blob.toString('base64')}\n`;
}
