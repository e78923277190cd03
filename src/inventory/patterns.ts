/**
 * Ansible host patterns: `all`/`*`, names, groups, globs, `~regex`, `@FILE` (patterns from a file, one a
 * line: a retry file), unions (`a:b`, `a,b`),
 * intersections (`a:&b`) and exclusions (`a:!b`). Unions are taken in order, then intersections, then
 * exclusions. Hosts come back in inventory order. A term that matches nothing (an exclusion too) is an
 * error, with a did-you-mean.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { didYouMean } from '../util/didyoumean.js';
import type { Inventory } from './inventory.js';

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const c of glob) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Splits a pattern into terms (on ':' and ','), keeping `[...]` and regex terms intact. */
export function splitPattern(pattern: string): string[] {
  const terms: string[] = [];
  let cur = '';
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '[') depth++;
    if (c === ']') depth = Math.max(0, depth - 1);
    const isRegexTerm = cur.replace(/^[!&]/, '').startsWith('~');
    if (c === ',' || (c === ':' && depth === 0 && !isRegexTerm)) {
      if (cur.trim()) terms.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) terms.push(cur.trim());
  return terms;
}

function groupHosts(inv: Inventory, name: string, out: Set<string>, seen = new Set<string>()): void {
  if (seen.has(name)) return;
  seen.add(name);
  const g = inv.groups.get(name)!;
  if (name === 'all') {
    for (const h of inv.hosts.keys()) out.add(h);
    return;
  }
  for (const h of g.hosts) out.add(h);
  for (const c of g.children) groupHosts(inv, c, out, seen);
}

/** `@FILE` (Ansible's retry-file convention): the patterns in FILE, one a line, as one term. */
function fileTerm(inv: Inventory, file: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the host list @${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out = new Set<string>();
  // An empty list adds nothing (`@last.retry:legacy` runs on legacy); alone, it is an error (matchHosts).
  if (!lines.length) return out;
  for (const l of lines) for (const h of matchHosts(inv, l)) out.add(h);
  return out;
}

function resolveTerm(inv: Inventory, term: string): Set<string> {
  if (term.startsWith('@')) return fileTerm(inv, term.slice(1));
  const out = new Set<string>();
  if (term === 'all' || term === '*') {
    for (const h of inv.hosts.keys()) out.add(h);
    return out;
  }
  if (term.startsWith('~')) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${term.slice(1)})`);
    } catch (e) {
      throw new ConfigError(`invalid regular expression in host pattern '${term}': ${(e as Error).message}`);
    }
    for (const g of inv.groups.keys()) if (re.test(g)) groupHosts(inv, g, out);
    for (const h of inv.hosts.keys()) if (re.test(h)) out.add(h);
    return out;
  }
  if (/[*?[]/.test(term)) {
    const re = globToRegExp(term);
    for (const g of inv.groups.keys()) if (re.test(g)) groupHosts(inv, g, out);
    for (const h of inv.hosts.keys()) if (re.test(h)) out.add(h);
    return out;
  }
  if (inv.groups.has(term)) groupHosts(inv, term, out);
  if (inv.hosts.has(term)) out.add(term);
  return out;
}

/** Hosts matching a pattern, in inventory order. */
export function matchHosts(inv: Inventory, pattern: string): string[] {
  const terms = splitPattern(pattern);
  if (!terms.length) throw new ConfigError(`empty host pattern '${pattern}'`);
  let union: Set<string> | undefined;
  const intersections: Set<string>[] = [];
  const exclusions: Set<string>[] = [];
  for (const t of terms) {
    const kind = t[0] === '!' ? '!' : t[0] === '&' ? '&' : '';
    const body = kind ? t.slice(1) : t;
    const hosts = resolveTerm(inv, body);
    if (!hosts.size && kind === '' && body.startsWith('@')) {
      const others = terms.filter((x) => x !== t && x[0] !== '!' && x[0] !== '&');
      if (!others.length) throw new ConfigError(`${body} lists no robot (nothing left to retry?)`);
      union ??= new Set();
      continue;
    }
    // An exclusion that matches nothing is as likely a typo as any other term, and a typo there
    // silently widens the run (reboot included): an error too, unless it names an existing, empty group.
    if (!hosts.size && !(kind === '!' && inv.groups.has(body))) {
      if (!inv.hosts.size) throw new ConfigError(`the inventory has no hosts: ${inv.file}`);
      const hint = /[*?[~]/.test(body) ? '' : didYouMean(body, [...inv.hosts.keys(), ...inv.groups.keys()].filter((n) => n !== body));
      throw new ConfigError(`host pattern '${t}' matches no host or group in ${inv.file}${hint}`);
    }
    if (kind === '!') exclusions.push(hosts);
    else if (kind === '&') intersections.push(hosts);
    else {
      union ??= new Set();
      for (const h of hosts) union.add(h);
    }
  }
  union ??= new Set(inv.hosts.keys());
  let result = [...inv.hosts.keys()].filter((h) => union!.has(h));
  for (const s of intersections) result = result.filter((h) => s.has(h));
  for (const s of exclusions) result = result.filter((h) => !s.has(h));
  return result;
}

/** Hosts of a play (`hosts:`) narrowed by --limit; empty is an error. */
export function selectHosts(inv: Inventory, hostsPattern: string, limit?: string): string[] {
  let hosts = matchHosts(inv, hostsPattern);
  if (limit !== undefined) {
    const lim = new Set(matchHosts(inv, limit));
    hosts = hosts.filter((h) => lim.has(h));
  }
  if (!hosts.length)
    throw new ConfigError(`no host matches '${hostsPattern}'${limit ? ` limited to '${limit}'` : ''} in ${inv.file}`);
  return hosts;
}
