/**
 * OpenSSH client config (pure parsing and lookup): Host blocks with patterns and negation, `Match all`,
 * Include, `Key value` / `Key=value`, first obtained value wins (IdentityFile accumulates).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, basename } from 'node:path';

export interface SshConfigBlock {
  patterns: string[];
  /** `Match` blocks other than `Match all` are kept but never match (reported as unsupported). */
  match?: string;
  options: [string, string][];
}

export interface SshConfig {
  blocks: SshConfigBlock[];
  warnings: string[];
}

/** OpenSSH pattern (only * and ? are special) as an anchored RegExp. */
export function sshWildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

const MULTI = new Set(['identityfile', 'certificatefile', 'localforward', 'remoteforward', 'dynamicforward', 'sendenv', 'setenv']);

export function expandTilde(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
}

/** Splits like a shell would (quotes and backslashes), without any expansion. */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let q: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]!)) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (q) throw new Error(`unterminated ${q} quote`);
  if (inWord) out.push(cur);
  return out;
}

function parseLine(line: string): [string, string] | undefined {
  const t = line.trim();
  if (!t || t.startsWith('#')) return undefined;
  const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(t);
  if (!m) return [t.toLowerCase(), ''];
  let v = m[2]!.trim();
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
  return [m[1]!.toLowerCase(), v];
}

export function parseSshConfig(text: string, file = '<config>', depth = 0): SshConfig {
  const cfg: SshConfig = { blocks: [{ patterns: ['*'], options: [] }], warnings: [] };
  let cur = cfg.blocks[0]!;
  for (const raw of text.split('\n')) {
    const kv = parseLine(raw);
    if (!kv) continue;
    const [k, v] = kv;
    if (k === 'host') {
      cur = { patterns: v.split(/\s+/).filter(Boolean), options: [] };
      cfg.blocks.push(cur);
    } else if (k === 'match') {
      cur = v.trim().toLowerCase() === 'all' ? { patterns: ['*'], options: [] } : { patterns: [], match: v, options: [] };
      if (cur.match) cfg.warnings.push(`${file}: 'Match ${v}' is not supported; its block is ignored`);
      cfg.blocks.push(cur);
    } else if (k === 'include') {
      if (depth > 8) continue;
      for (const pat of v.split(/\s+/)) {
        const p = expandTilde(pat);
        const full = isAbsolute(p) ? p : join(dirname(file) === '.' ? join(homedir(), '.ssh') : dirname(file), p);
        for (const f of globFiles(full)) {
          const sub = parseSshConfig(readFileSync(f, 'utf8'), f, depth + 1);
          cfg.warnings.push(...sub.warnings);
          // Included lines belong to the current block; their own Host blocks follow.
          cur.options.push(...sub.blocks[0]!.options);
          cfg.blocks.push(...sub.blocks.slice(1));
          if (sub.blocks.length > 1) cur = cfg.blocks[cfg.blocks.length - 1]!;
        }
      }
    } else cur.options.push([k, v]);
  }
  return cfg;
}

function globFiles(pattern: string): string[] {
  if (!/[*?]/.test(basename(pattern))) return existsSync(pattern) ? [pattern] : [];
  const dir = dirname(pattern);
  if (!existsSync(dir)) return [];
  const re = sshWildcard(basename(pattern));
  return readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => join(dir, f));
}

function patternMatches(patterns: string[], host: string): boolean {
  let ok = false;
  for (const p of patterns) {
    const neg = p.startsWith('!');
    const re = sshWildcard(neg ? p.slice(1) : p);
    if (re.test(host)) {
      if (neg) return false;
      ok = true;
    }
  }
  return ok;
}

/** Options for a host: first obtained value wins; multi-valued options accumulate. Keys are lower-case. */
export function lookupHost(cfg: SshConfig, host: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const b of cfg.blocks) {
    if (b.match !== undefined || !patternMatches(b.patterns, host)) continue;
    for (const [k, v] of b.options) {
      if (MULTI.has(k)) out.set(k, [...(out.get(k) ?? []), v]);
      else if (!out.has(k)) out.set(k, [v]);
    }
  }
  return out;
}

export function loadSshConfig(file?: string): SshConfig {
  const f = file ?? join(homedir(), '.ssh', 'config');
  if (!existsSync(f)) return { blocks: [], warnings: [] };
  return parseSshConfig(readFileSync(f, 'utf8'), f);
}
