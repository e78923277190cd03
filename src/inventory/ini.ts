/**
 * Ansible's INI inventory format, with Ansible's exact semantics (ansible/plugins/inventory/ini.py):
 * `[group]` host lines, `[group:vars]`, `[group:children]`, hosts before any section in `ungrouped`,
 * comments (# and ;), host ranges, `host:port`, inline `key=value` host vars split as Python's shlex
 * does, and values typed as Python literals (literalEval) — inline values after shlex took their quotes
 * off (`x="5"` is the int 5), `[group:vars]` values as written (`x="5"` is the string "5"). A child
 * group or a :vars section for a group that is never defined is an error, as in Ansible.
 * Written here: no INI library knows these rules (host lines are not key=value pairs).
 */
import { ConfigError } from '../errors.js';
import { literalEval } from './pyliteral.js';
import { INVENTORY_HOST_NAME } from './vars.js';
import { shlexSplit, ShlexError } from './shlex.js';

export type Vars = Record<string, unknown>;

export interface IniGroup {
  name: string;
  vars: Vars;
  hosts: string[];
  children: string[];
  /** Where each var was set: line, column (for errors found later, e.g. by the schema). */
  varLines: Record<string, [number, number]>;
}

export interface IniHost {
  name: string;
  vars: Vars;
  varLines: Record<string, [number, number]>;
}

export interface IniInventory {
  groups: Map<string, IniGroup>;
  hosts: Map<string, IniHost>;
}

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUPNAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

/** `host`, `host:port`, `[v6addr]:port`, with ranges (`web[01:20]:2222`); hosts expanded by the caller. */
export function splitHostPort(pattern: string): { host: string; port?: number } | undefined {
  const br = /^\[(.+)\]:(\d+)$/.exec(pattern);
  if (br) return { host: br[1]!, port: Number(br[2]) };
  const hp = /^((?:[^:[\]]|\[[0-9a-z]+:[0-9a-z]+(?::[0-9]+)?\])*):(\d+)$/.exec(pattern);
  if (hp) return { host: hp[1]!, port: Number(hp[2]) };
  if (pattern.endsWith(':')) return undefined;
  return { host: pattern };
}

/** `known`: groups earlier inventory sources defined (Ansible parses every source into one inventory). */
export function parseIni(text: string, file: string, expand: (pattern: string) => string[], known: ReadonlySet<string> = new Set()): IniInventory {
  const inv: IniInventory = { groups: new Map(), hosts: new Map() };
  const group = (name: string): IniGroup => {
    let g = inv.groups.get(name);
    if (!g) inv.groups.set(name, (g = { name, vars: {}, hosts: [], children: [], varLines: {} }));
    return g;
  };
  group('all');
  group('ungrouped');
  // Each group's hosts as a set too: membership checks in constant time (a range of 100k hosts).
  const hostSets = new Map<IniGroup, Set<string>>();
  // Ansible: a group named in a [x:children] or [x:vars] section before it is defined is pending.
  const pending = new Map<string, { line: number; state: 'vars' | 'children'; parents: string[] }>();
  const addPendingChildren = (name: string) => {
    const p = pending.get(name)!;
    for (const parent of p.parents) {
      if (!group(parent).children.includes(name)) group(parent).children.push(name);
      if (pending.get(parent)?.state === 'children') addPendingChildren(parent);
    }
    pending.delete(name);
  };
  let groupname = 'ungrouped';
  let state = 'hosts';
  // Python's str.splitlines(), as Ansible splits the file.
  const lines = text.split(/\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]/);
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const line = raw.trim();
    const lineNo = n + 1;
    const col = raw.length - raw.trimStart().length + 1;
    const err = (msg: string, c = col) => new ConfigError(msg, file, lineNo, c);
    if (!line || line[0] === '#' || line[0] === ';') continue;
    const m = SECTION.exec(line);
    if (m) {
      groupname = m[1]!;
      state = m[2] ?? 'hosts';
      if (!['hosts', 'children', 'vars'].includes(state)) throw err(`section [${m[1]}:${m[2]}] has an unknown type '${state}' (hosts, children or vars)`);
      if (!/^[A-Za-z0-9_-]+$/.test(groupname)) throw err(`invalid group name '${groupname}'`);
      if (!inv.groups.has(groupname)) {
        if (state === 'vars' && !pending.has(groupname) && !known.has(groupname)) pending.set(groupname, { line: lineNo, state: 'vars', parents: [] });
        group(groupname);
      }
      const p = pending.get(groupname);
      if (p && state !== 'vars') {
        if (p.state === 'children') addPendingChildren(groupname);
        else pending.delete(groupname);
      }
      continue;
    }
    if (line.startsWith('[') && line.endsWith(']')) throw err(`invalid section '${line}': no spaces or other characters are allowed in a section name`);
    if (state === 'hosts') {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (e) {
        if (e instanceof ShlexError) throw err(`cannot split the host line: ${e.message}`);
        throw e;
      }
      if (!tokens.length) continue;
      const hp = splitHostPort(tokens[0]!);
      if (!hp) throw err(`invalid host pattern '${tokens[0]}': a final ':' is reserved for a port`);
      if (hp.host.trim() === '---') throw err(`invalid host pattern '---': is this a YAML file?`);
      const vars: Vars = {};
      const varLines: Record<string, [number, number]> = {};
      if (hp.port !== undefined) {
        vars.ansible_port = hp.port;
        varLines.ansible_port = [lineNo, col];
      }
      // Each key is looked for after the previous one: the columns in one pass over the line.
      let from = raw.length - raw.trimStart().length + tokens[0]!.length;
      for (const t of tokens.slice(1)) {
        const at = raw.indexOf(t.split('=', 1)[0]!, from);
        const c = at >= 0 ? at + 1 : col;
        if (at >= 0) from = at + t.split('=', 1)[0]!.length;
        if (!t.includes('=')) throw err(`expected key=value host variable, got '${t}'`, c);
        const k = t.slice(0, t.indexOf('='));
        vars[k] = literalEval(t.slice(t.indexOf('=') + 1));
        varLines[k] = [lineNo, c];
      }
      let names: string[];
      try {
        names = expand(hp.host);
      } catch (e) {
        throw err((e as Error).message);
      }
      for (const h of names) {
        if (!INVENTORY_HOST_NAME.test(h)) throw err(`invalid host name '${h}'`);
        let host = inv.hosts.get(h);
        if (!host) inv.hosts.set(h, (host = { name: h, vars: {}, varLines: {} }));
        Object.assign(host.vars, vars);
        Object.assign(host.varLines, varLines);
        const g = group(groupname);
        const members = hostSets.get(g) ?? new Set(g.hosts);
        hostSets.set(g, members);
        if (!members.has(h)) {
          members.add(h);
          g.hosts.push(h);
        }
      }
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) throw err(`expected key=value, got '${line}'`);
      const k = line.slice(0, eq).trim();
      group(groupname).vars[k] = literalEval(line.slice(eq + 1).trim());
      group(groupname).varLines[k] = [lineNo, col];
    } else {
      const c = GROUPNAME.exec(line);
      if (!c) throw err(`expected a group name, got '${line}'`);
      const child = c[1]!;
      if (!inv.groups.has(child) && !known.has(child)) {
        const p = pending.get(child);
        if (!p) pending.set(child, { line: lineNo, state: 'children', parents: [groupname] });
        else p.parents.push(groupname);
      } else if (!group(groupname).children.includes(child)) group(groupname).children.push(child);
    }
  }
  for (const [name, p] of pending) {
    if (p.state === 'vars') throw new ConfigError(`section [${name}:vars] is for a group that is never defined: ${name}`, file, p.line, 1);
    throw new ConfigError(`section [${p.parents[p.parents.length - 1]}:children] names a group that is never defined: ${name}`, file, p.line, 1);
  }
  return inv;
}
