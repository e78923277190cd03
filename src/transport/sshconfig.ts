/**
 * OpenSSH client config (pure parsing and lookup): Host blocks with patterns and negation, Match
 * blocks (all, host, originalhost, user, localuser; negated criteria), Include, `Key value` /
 * `Key=value`, first obtained value wins (IdentityFile accumulates). A Match criterion fleetmasq cannot
 * evaluate (exec, canonical, final, localnetwork, tagged) is an error, never silently skipped: its
 * block may hold security options (StrictHostKeyChecking, UserKnownHostsFile) that `ssh -G` applies.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, basename } from 'node:path';
import { ConfigError } from '../errors.js';

export interface MatchCriterion {
  kind: 'all' | 'host' | 'originalhost' | 'user' | 'localuser';
  negate: boolean;
  patterns: string[];
}

export interface SshConfigBlock {
  patterns: string[];
  /** A Match block: every criterion must hold. */
  match?: MatchCriterion[];
  options: [string, string][];
  /** Included from inside this block: applies only where that block does too. */
  within?: SshConfigBlock;
}

export interface SshConfig {
  blocks: SshConfigBlock[];
}

/** OpenSSH pattern (only * and ? are special) as an anchored RegExp. */
/** Compiled patterns (the same few patterns are matched for every robot of a fleet). */
const wildcards = new Map<string, RegExp>();
export function sshWildcard(pattern: string): RegExp {
  let re = wildcards.get(pattern);
  if (!re) {
    if (wildcards.size > 10_000) wildcards.clear();
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    wildcards.set(pattern, re);
  }
  return re;
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

export function parseSshConfig(text: string, file = '<config>', depth = 0, within?: SshConfigBlock): SshConfig {
  const cfg: SshConfig = { blocks: [{ patterns: ['*'], options: [], ...(within ? { within } : {}) }] };
  let cur = cfg.blocks[0]!;
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const kv = parseLine(raw);
    if (!kv) continue;
    const [k, v] = kv;
    if (k === 'host') {
      cur = { patterns: v.split(/\s+/).filter(Boolean), options: [], ...(within ? { within } : {}) };
      cfg.blocks.push(cur);
    } else if (k === 'match') {
      cur = { patterns: [], match: parseMatch(v, `${file}:${lineNo}`), options: [], ...(within ? { within } : {}) };
      cfg.blocks.push(cur);
    } else if (k === 'include') {
      if (depth > 8) continue;
      for (const pat of v.split(/\s+/)) {
        const p = expandTilde(pat);
        const full = isAbsolute(p) ? p : join(dirname(file) === '.' ? join(homedir(), '.ssh') : dirname(file), p);
        for (const f of globFiles(full)) {
          // As OpenSSH: an Include inside a Host or Match block is conditional on that block; the
          // included file's loose lines belong to it, its own blocks apply only where it does; and
          // the lines after the Include still belong to the block that held it.
          const enclosing = cur === cfg.blocks[0] && !within ? undefined : cur;
          const sub = parseSshConfig(readFileSync(f, 'utf8'), f, depth + 1, enclosing);
          cur.options.push(...sub.blocks[0]!.options);
          cfg.blocks.push(...sub.blocks.slice(1));
        }
      }
    } else cur.options.push([k, v]);
  }
  return cfg;
}

const MATCH_WITH_ARG = new Set(['host', 'originalhost', 'user', 'localuser']);

/** `Match` criteria, as OpenSSH reads them (readconf.c match_cfg_line). */
export function parseMatch(text: string, where: string): MatchCriterion[] {
  const words = shellWords(text);
  const out: MatchCriterion[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const negate = w.startsWith('!');
    const kind = (negate ? w.slice(1) : w).toLowerCase();
    if (kind === 'all') {
      if (words.length !== 1) throw new ConfigError(`${where}: 'Match all' takes nothing else (as in OpenSSH)`);
      out.push({ kind: 'all', negate, patterns: [] });
    } else if (MATCH_WITH_ARG.has(kind)) {
      const arg = words[++i];
      if (arg === undefined) throw new ConfigError(`${where}: 'Match ${kind}' needs an argument`);
      out.push({ kind: kind as MatchCriterion['kind'], negate, patterns: arg.split(',') });
    } else
      throw new ConfigError(
        `${where}: 'Match ${text}': fleetmasq cannot evaluate the '${kind}' criterion, and skipping the block could weaken what OpenSSH would do (host key checking, known_hosts); give --ssh-config FILE without it`,
      );
  }
  if (!out.length) throw new ConfigError(`${where}: 'Match' needs a criterion`);
  return out;
}

/** What a Match block is matched against, as lookup proceeds. */
export interface MatchContext {
  /** The name given (inventory host or ansible_host). */
  originalHost: string;
  /** The remote user given on the command line (inventory), if any. */
  user?: string;
  /** A HostName given on the command line (ansible_ssh_common_args), if any. */
  hostName?: string;
  localUser: string;
}

function matchHolds(criteria: MatchCriterion[], ctx: MatchContext, obtained: Map<string, string[]>): boolean {
  return criteria.every((c) => {
    let v: boolean;
    switch (c.kind) {
      case 'all':
        v = true;
        break;
      case 'host': {
        // The target host name after HostName substitution so far (%h is the original name).
        const hn = obtained.get('hostname')?.[0]?.replace(/%h/g, ctx.originalHost) ?? ctx.originalHost;
        v = patternMatches(c.patterns, hn);
        break;
      }
      case 'originalhost':
        v = patternMatches(c.patterns, ctx.originalHost);
        break;
      case 'user':
        v = patternMatches(c.patterns, ctx.user ?? obtained.get('user')?.[0] ?? ctx.localUser);
        break;
      case 'localuser':
        v = patternMatches(c.patterns, ctx.localUser);
        break;
    }
    return c.negate ? !v : v;
  });
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
export function lookupHost(cfg: SshConfig, host: string, ctx: Partial<MatchContext> = {}): Map<string, string[]> {
  const out = new Map<string, string[]>();
  // Options given on the command line count as obtained first (Match host/user see them).
  if (ctx.hostName) out.set('hostname', [ctx.hostName]);
  const mctx: MatchContext = { originalHost: host, localUser: ctx.localUser ?? process.env.USER ?? 'root', user: ctx.user };
  const applies = (b: SshConfigBlock): boolean =>
    (b.match ? matchHolds(b.match, mctx, out) : patternMatches(b.patterns, host)) && (!b.within || applies(b.within));
  for (const b of cfg.blocks) {
    if (!applies(b)) continue;
    for (const [k, v] of b.options) {
      if (MULTI.has(k)) out.set(k, [...(out.get(k) ?? []), v]);
      else if (!out.has(k)) out.set(k, [v]);
    }
  }
  return out;
}

export function loadSshConfig(file?: string): SshConfig {
  const f = file ?? join(homedir(), '.ssh', 'config');
  if (!existsSync(f)) return { blocks: [] };
  return parseSshConfig(readFileSync(f, 'utf8'), f);
}
