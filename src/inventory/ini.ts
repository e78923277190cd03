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

/** One meaningful line of the file: as written, trimmed, its number and column, and errors pointing at it. */
interface IniLine {
  raw: string;
  line: string;
  lineNo: number;
  col: number;
  err: (msg: string, c?: number) => ConfigError;
}

/** Ansible: a group named in a [x:children] or [x:vars] section before it is defined is pending. */
type Pending = { line: number; state: 'vars' | 'children'; parents: string[] };

/** The parse of one INI file: the section it is in, and the groups still pending (steps below). */
class IniParser {
  readonly inv: IniInventory = { groups: new Map(), hosts: new Map() };
  // Each group's hosts as a set too: membership checks in constant time (a range of 100k hosts).
  private readonly hostSets = new Map<IniGroup, Set<string>>();
  private readonly pending = new Map<string, Pending>();
  private groupname = 'ungrouped';
  private state = 'hosts';

  constructor(
    private readonly file: string,
    private readonly expand: (pattern: string) => string[],
    private readonly known: ReadonlySet<string>,
  ) {
    this.group('all');
    this.group('ungrouped');
  }

  private group(name: string): IniGroup {
    let g = this.inv.groups.get(name);
    if (!g) this.inv.groups.set(name, (g = { name, vars: {}, hosts: [], children: [], varLines: {} }));
    return g;
  }

  private addPendingChildren(name: string): void {
    const p = this.pending.get(name)!;
    for (const parent of p.parents) {
      if (!this.group(parent).children.includes(name)) this.group(parent).children.push(name);
      if (this.pending.get(parent)?.state === 'children') this.addPendingChildren(parent);
    }
    this.pending.delete(name);
  }

  /** One meaningful line, by the section it is in. */
  take(l: IniLine): void {
    const m = SECTION.exec(l.line);
    if (m) return this.section(m[1]!, m[2], l);
    if (l.line.startsWith('[') && l.line.endsWith(']')) throw l.err(`invalid section '${l.line}': no spaces or other characters are allowed in a section name`);
    if (this.state === 'hosts') this.hostLine(l);
    else if (this.state === 'vars') this.varsLine(l);
    else this.childLine(l);
  }

  private section(name: string, kind: string | undefined, l: IniLine): void {
    this.groupname = name;
    this.state = kind ?? 'hosts';
    if (!['hosts', 'children', 'vars'].includes(this.state)) throw l.err(`section [${name}:${kind}] has an unknown type '${this.state}' (hosts, children or vars)`);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw l.err(`invalid group name '${name}'`);
    if (!this.inv.groups.has(name)) {
      if (this.state === 'vars' && !this.pending.has(name) && !this.known.has(name)) this.pending.set(name, { line: l.lineNo, state: 'vars', parents: [] });
      this.group(name);
    }
    const p = this.pending.get(name);
    if (p && this.state !== 'vars') {
      if (p.state === 'children') this.addPendingChildren(name);
      else this.pending.delete(name);
    }
  }

  /** `host[:port] key=value…`: the host pattern's hosts, each in the current group, with these vars. */
  private hostLine(l: IniLine): void {
    let tokens: string[];
    try {
      tokens = shlexSplit(l.line);
    } catch (e) {
      if (e instanceof ShlexError) throw l.err(`cannot split the host line: ${e.message}`);
      throw e;
    }
    if (!tokens.length) return;
    const hp = splitHostPort(tokens[0]!);
    if (!hp) throw l.err(`invalid host pattern '${tokens[0]}': a final ':' is reserved for a port`);
    if (hp.host.trim() === '---') throw l.err(`invalid host pattern '---': is this a YAML file?`);
    const { vars, varLines } = hostLineVars(tokens, hp.port, l);
    let names: string[];
    try {
      names = this.expand(hp.host);
    } catch (e) {
      throw l.err((e as Error).message);
    }
    const g = this.group(this.groupname);
    for (const h of names) {
      if (!INVENTORY_HOST_NAME.test(h)) throw l.err(`invalid host name '${h}'`);
      let host = this.inv.hosts.get(h);
      if (!host) this.inv.hosts.set(h, (host = { name: h, vars: {}, varLines: {} }));
      Object.assign(host.vars, vars);
      Object.assign(host.varLines, varLines);
      const members = this.hostSets.get(g) ?? new Set(g.hosts);
      this.hostSets.set(g, members);
      if (!members.has(h)) {
        members.add(h);
        g.hosts.push(h);
      }
    }
  }

  private varsLine(l: IniLine): void {
    const eq = l.line.indexOf('=');
    if (eq < 0) throw l.err(`expected key=value, got '${l.line}'`);
    const k = l.line.slice(0, eq).trim();
    this.group(this.groupname).vars[k] = literalEval(l.line.slice(eq + 1).trim());
    this.group(this.groupname).varLines[k] = [l.lineNo, l.col];
  }

  private childLine(l: IniLine): void {
    const c = GROUPNAME.exec(l.line);
    if (!c) throw l.err(`expected a group name, got '${l.line}'`);
    const child = c[1]!;
    if (!this.inv.groups.has(child) && !this.known.has(child)) {
      const p = this.pending.get(child);
      if (!p) this.pending.set(child, { line: l.lineNo, state: 'children', parents: [this.groupname] });
      else p.parents.push(this.groupname);
    } else if (!this.group(this.groupname).children.includes(child)) this.group(this.groupname).children.push(child);
  }

  /** A group still pending at the end of the file was never defined: an error at the line that named it. */
  checkPending(): void {
    for (const [name, p] of this.pending) {
      if (p.state === 'vars') throw new ConfigError(`section [${name}:vars] is for a group that is never defined: ${name}`, this.file, p.line, 1);
      throw new ConfigError(`section [${p.parents[p.parents.length - 1]}:children] names a group that is never defined: ${name}`, this.file, p.line, 1);
    }
  }
}

/** A host line's port and key=value tokens as vars, each with the line and column that set it. */
function hostLineVars(tokens: string[], port: number | undefined, l: IniLine): { vars: Vars; varLines: Record<string, [number, number]> } {
  const vars: Vars = {};
  const varLines: Record<string, [number, number]> = {};
  if (port !== undefined) {
    vars.ansible_port = port;
    varLines.ansible_port = [l.lineNo, l.col];
  }
  // Each key is looked for after the previous one: the columns in one pass over the line.
  let from = l.raw.length - l.raw.trimStart().length + tokens[0]!.length;
  for (const t of tokens.slice(1)) {
    const at = l.raw.indexOf(t.split('=', 1)[0]!, from);
    const c = at >= 0 ? at + 1 : l.col;
    if (at >= 0) from = at + t.split('=', 1)[0]!.length;
    if (!t.includes('=')) throw l.err(`expected key=value host variable, got '${t}'`, c);
    const k = t.slice(0, t.indexOf('='));
    vars[k] = literalEval(t.slice(t.indexOf('=') + 1));
    varLines[k] = [l.lineNo, c];
  }
  return { vars, varLines };
}

/** `known`: groups earlier inventory sources defined (Ansible parses every source into one inventory). */
export function parseIni(text: string, file: string, expand: (pattern: string) => string[], known: ReadonlySet<string> = new Set()): IniInventory {
  const parser = new IniParser(file, expand, known);
  // Python's str.splitlines(), as Ansible splits the file.
  const lines = text.split(/\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]/);
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const line = raw.trim();
    if (!line || line[0] === '#' || line[0] === ';') continue;
    const lineNo = n + 1;
    const col = raw.length - raw.trimStart().length + 1;
    parser.take({ raw, line, lineNo, col, err: (msg, c = col) => new ConfigError(msg, file, lineNo, c) });
  }
  parser.checkPending();
  return parser.inv;
}
