/**
 * Ansible-compatible YAML inventory: groups, children, hosts, vars, the implicit groups `all` and
 * `ungrouped`, host ranges (`cam[01:20]`), group_vars/ and host_vars/ beside the inventory, and
 * Ansible's variable precedence:
 *   all (inventory) < other groups (inventory; by depth, ansible_group_priority, name)
 *   < group_vars/all < group_vars/<group> (same order) < host (inventory) < host_vars/<host>.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ErrorObject } from 'ajv';
// Validators precompiled from the schemas at build time (src/validation), not compiled per run.
import * as generated from '../validation/validators.js';
import { ConfigError } from '../errors.js';
import { checkDepth, didYouMean, YamlSource, type Path } from '../util/yamlsrc.js';
import { editDistance } from '../util/didyoumean.js';
import { INVENTORY_HOST_NAME, KNOWN_VARS, nearMissOf, varWarnings, type NearMiss } from './vars.js';
import { parseIni, type IniInventory } from './ini.js';

export type Vars = Record<string, unknown>;

export interface Group {
  name: string;
  vars: Vars;
  fileVars: Vars;
  children: string[];
  parents: Set<string>;
  hosts: string[];
  depth: number;
  priority: number;
}

export interface Host {
  name: string;
  /** Vars set on the host in the inventory file. */
  vars: Vars;
  fileVars: Vars;
  /** Groups the host is directly in. */
  groups: Set<string>;
}

export interface Inventory {
  file: string;
  groups: Map<string, Group>;
  hosts: Map<string, Host>;
  warnings: string[];
  /** Where each unknown ansible_* variable was first set (`file:line:col`), for the near-miss warnings. */
  varOrigins: Map<string, string>;
}

const GROUP_KEYS = ['hosts', 'vars', 'children'];

function pathOf(instancePath: string): Path {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Turns the first ajv error into a plain-words ConfigError at the right line. */
export function schemaError(src: YamlSource, err: ErrorObject): ConfigError {
  const path = pathOf(err.instancePath);
  const last = path[path.length - 1];
  if (err.keyword === 'additionalProperties') {
    // Vars schemas allow any key but unknown ansible_*/masquerade_* ones; group schemas only their keys.
    const key = String((err.params as { additionalProperty: string }).additionalProperty);
    if (/^(ansible_|masquerade_)/.test(key)) return src.error(`unknown variable '${key}'${didYouMean(key, KNOWN_VARS)}`, [...path, key], true);
    return src.error(`unknown key '${key}'${last !== undefined ? ` in '${last}'` : ''}${didYouMean(key, GROUP_KEYS)}: a group has only hosts, vars and children`, [...path, key], true);
  }
  const what = last !== undefined ? `'${last}'` : 'the document';
  const badValue = KNOWN_VARS.has(String(last)) || ['pattern', 'anyOf', 'enum', 'const'].includes(err.keyword);
  if (badValue) {
    const value = path.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k as string], src.toJS());
    return src.error(`invalid value ${JSON.stringify(value)} for ${what}${hint(String(last))}`, path);
  }
  if (err.keyword === 'type') return src.error(`${what} must be ${(err.params as { type: string | string[] }).type.toString().replace(',', ' or ')}`, path);
  return src.error(`${what} ${err.message}`, path);
}

function hint(key: string): string {
  switch (key) {
    case 'masquerade_interface':
      return ": an interface name (letters, digits, _ . -; up to 15 chars; a final + is a wildcard, as in usb+), a list of them, or auto";
    case 'masquerade_persistence':
      return ': systemd, rc.local, external or auto';
    case 'ansible_port':
    case 'ansible_ssh_port':
      return ': a port number from 1 to 65535';
    case 'ansible_user':
    case 'ansible_become_user':
    case 'ansible_ssh_user':
      return ': a user name (a-z, 0-9, _ . -)';
    case 'ansible_host':
    case 'ansible_ssh_host':
      return ': a host name or IP address';
    case 'ansible_become':
      return ': true or false';
    default:
      return '';
  }
}

/** The most names one host pattern may expand to (`r[0:99999999]` is refused, not built). */
export const MAX_RANGE_HOSTS = 100_000;

/** The first range in a name: its text before and after, and the values it takes. */
function firstRange(name: string): { pre: string; post: string; count: number; at: (k: number) => string } | undefined {
  const m = /^(.*?)\[([0-9a-z]+):([0-9a-z]+)(?::([0-9]+))?\](.*)$/.exec(name);
  if (!m) return undefined;
  const [, pre, a, b, stepS, post] = m as unknown as [string, string, string, string, string | undefined, string];
  const step = stepS ? Number(stepS) : 1;
  if (!(step >= 1)) throw new ConfigError(`host range '${name}': the step must be 1 or more`);
  let from: number;
  let to: number;
  let text: (i: number) => string;
  if (/^[0-9]+$/.test(a) && /^[0-9]+$/.test(b)) {
    const width = a.startsWith('0') ? a.length : 0;
    [from, to] = [Number(a), Number(b)];
    text = (i) => String(i).padStart(width, '0');
  } else if (/^[a-z]$/.test(a) && /^[a-z]$/.test(b)) {
    [from, to] = [a.charCodeAt(0), b.charCodeAt(0)];
    text = (i) => String.fromCharCode(i);
  } else return undefined;
  const count = to >= from ? Math.floor((to - from) / step) + 1 : 0;
  return { pre, post, count, at: (k) => text(from + k * step) };
}

/**
 * Expands Ansible host ranges: `cam[01:03]` → cam01 cam02 cam03; `n[a:c]`; `x[0:10:5]`; several in one
 * name (`r[1:2]-[a:b]`). The count is known before any name is built: more than `limit` is an error.
 */
export function expandHostRange(name: string, limit = MAX_RANGE_HOSTS): string[] {
  let total = 1;
  for (let rest: string | undefined = name; rest !== undefined; ) {
    const r = firstRange(rest);
    if (!r) break;
    total *= r.count;
    if (total > limit)
      throw new ConfigError(`host range '${name}' makes more than ${limit.toLocaleString('en')} names (the limit for one pattern): split it into several patterns, or use an executable inventory`);
    rest = r.post;
  }
  const build = (n: string): string[] => {
    const r = firstRange(n);
    if (!r) return [n];
    const tails = build(r.post);
    const out: string[] = [];
    for (let k = 0; k < r.count; k++) {
      const head = r.pre + r.at(k);
      for (const t of tails) out.push(head + t);
    }
    return out;
  };
  return build(name);
}

/** Membership sets of host and child lists, so adding a name to a list of 100k is constant time. */
const members = new WeakMap<string[], Set<string>>();

/** Adds `name` to `list` unless it is there (a list's set is made once, on first use). */
export function addUnique(list: string[], name: string): void {
  let set = members.get(list);
  if (!set) members.set(list, (set = new Set(list)));
  if (set.has(name)) return;
  set.add(name);
  list.push(name);
}

/** Notes where the unknown ansible_* variables of `vars` were set, the first time each is seen. */
function noteOrigins(inv: Inventory, vars: Vars | null | undefined, where: (key: string) => { line?: number; col?: number } | [number, number] | undefined, file: string): void {
  for (const k of Object.keys(vars ?? {})) {
    if (!k.startsWith('ansible_') || KNOWN_VARS.has(k) || inv.varOrigins.has(k)) continue;
    const p = where(k);
    const [line, col] = Array.isArray(p) ? p : [p?.line, p?.col];
    inv.varOrigins.set(k, line !== undefined ? `${file}:${line}:${col ?? 1}` : file);
  }
}

function loadVarsFile(file: string, inv: Inventory): Vars {
  const src = YamlSource.load(file);
  const data = src.toJS();
  const v = generated.vars;
  if (!v(data)) throw schemaError(src, v.errors![0]!);
  noteOrigins(inv, data as Vars, (k) => src.pos([k], true), file);
  return (data ?? {}) as Vars;
}

/** group_vars/NAME(.yml|.yaml|.json|) or a directory group_vars/NAME/ of such files (merged in name order). */
function loadVarsDir(dir: string, name: string, inv: Inventory): Vars | undefined {
  if (!existsSync(dir)) return undefined;
  let out: Vars | undefined;
  for (const cand of [name, `${name}.yml`, `${name}.yaml`, `${name}.json`]) {
    const p = join(dir, cand);
    if (!existsSync(p)) continue;
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) {
        if (/\.(ya?ml|json)$/.test(f) || !f.includes('.')) out = { ...out, ...loadVarsFile(join(p, f), inv) };
      }
    } else out = { ...out, ...loadVarsFile(p, inv) };
  }
  return out;
}

/** An Ansible INI inventory: its first meaningful line is a `[section]` or a `host key=value` line. */
function looksLikeIni(text: string): boolean {
  const first = text.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#') && !l.startsWith(';'));
  return first !== undefined && (/^\[[^\]]+\]$/.test(first) || /^[^\s:]+(\s+[A-Za-z_][A-Za-z0-9_]*=\S*)+$/.test(first));
}

export function loadInventory(file: string, varsBeside = true, known: ReadonlySet<string> = new Set()): Inventory {
  let text: string;
  try {
    if (statSync(file).isDirectory()) {
      const inside = readdirSync(file).filter((f) => /\.ya?ml$/.test(f));
      throw new ConfigError(`is a directory: give the inventory file in it${inside.length ? ` (${inside.map((f) => join(file, f)).join(', ')})` : ''}`, file);
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`cannot read the inventory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  const ext = /\.([^./]+)$/.exec(file)?.[1]?.toLowerCase();
  const ini = () => finish(fromIni(parseIni(text, file, expandHostRange, known), file), file, varsBeside);
  // As Ansible tries its plugins: .ini is INI, .yml/.yaml/.json are YAML; any other file is YAML when it
  // reads as a mapping, else INI.
  if (ext === 'ini' || (!['yml', 'yaml', 'json'].includes(ext ?? '') && looksLikeIni(text))) return ini();
  let src: YamlSource;
  try {
    src = YamlSource.parse(text, file);
  } catch (e) {
    if (['yml', 'yaml', 'json'].includes(ext ?? '')) throw e;
    return ini();
  }
  const data = src.toJS();
  if (isListForm(data)) return fromListForm(data, file, undefined, varsBeside);
  if (!['yml', 'yaml', 'json'].includes(ext ?? '') && (data === null || typeof data !== 'object' || Array.isArray(data)) && text.trim()) return ini();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    if (typeof data === 'string' || src.doc.contents === null)
      throw new ConfigError('neither a YAML nor an INI inventory (a YAML inventory is a mapping of group names, usually `all:`)', file, 1, 1);
    throw src.error('an inventory is a mapping of group names (usually `all:`)', []);
  }
  if (typeof (data as Record<string, unknown>).plugin === 'string')
    throw src.error(`an inventory plugin config (plugin: ${String((data as Record<string, unknown>).plugin)}): Ansible's plugin reads it; give it with a .yml or .yaml name, or run ansible-inventory -i ${file} --list > inventory.json, then -i inventory.json`, ['plugin'], true);
  const v = generated.inventory;
  if (!v(data)) throw schemaError(src, v.errors![0]!);

  const inv = newInventory(file);
  const group = (name: string) => groupOf(inv, name);

  const walk = (name: string, def: Record<string, unknown> | null, path: Path, parent?: string) => {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw src.error(`invalid group name '${name}'`, path, true);
    const g = group(name);
    if (parent && parent !== name) addChild(inv, group(parent), name);
    if (!def) return;
    if (def.vars) {
      const rest = setGroupVars(g, def.vars as Vars);
      noteOrigins(inv, rest, (k) => src.pos([...path, 'vars', k], true), file);
    }
    for (const [pattern, hv] of Object.entries((def.hosts ?? {}) as Record<string, Vars | null>)) {
      for (const hn of expandHostRange(pattern)) {
        if (!INVENTORY_HOST_NAME.test(hn)) throw src.error(`invalid host name '${hn}'`, [...path, 'hosts', pattern], true);
        Object.assign(addToGroup(inv, g, hn).vars, hv ?? {});
        noteOrigins(inv, hv, (k) => src.pos([...path, 'hosts', pattern, k], true), file);
      }
    }
    for (const [child, cdef] of Object.entries((def.children ?? {}) as Record<string, Record<string, unknown> | null>)) {
      walk(child, cdef, [...path, 'children', child], name);
    }
  };
  for (const [name, def] of Object.entries(data as Record<string, Record<string, unknown> | null>)) {
    walk(name, def, [name], name === 'all' ? undefined : 'all');
  }
  return finish(inv, file, varsBeside);
}

function newInventory(file: string): Inventory {
  const inv: Inventory = { file, groups: new Map(), hosts: new Map(), warnings: [], varOrigins: new Map() };
  groupOf(inv, 'all');
  groupOf(inv, 'ungrouped');
  return inv;
}

function groupOf(inv: Inventory, name: string): Group {
  let g = inv.groups.get(name);
  if (!g) {
    g = { name, vars: {}, fileVars: {}, children: [], parents: new Set(), hosts: [], depth: 0, priority: 1 };
    inv.groups.set(name, g);
  }
  return g;
}

/*
 * The one place every source (YAML, INI, --list form, host lists, several sources merged) makes hosts and
 * links them to groups: hostOf, addToGroup, addChild, setGroupVars, adoptTopLevel.
 */

/** The host of this name, made (in no group, without vars) the first time it is named. */
function hostOf(inv: Inventory, name: string): Host {
  let h = inv.hosts.get(name);
  if (!h) inv.hosts.set(name, (h = { name, vars: {}, fileVars: {}, groups: new Set() }));
  return h;
}

/** Puts a host (made if new) in a group, once. */
function addToGroup(inv: Inventory, g: Group, hostName: string): Host {
  const h = hostOf(inv, hostName);
  h.groups.add(g.name);
  addUnique(g.hosts, hostName);
  return h;
}

/** Makes `child` (made if new) a child group of `parent`, once. */
function addChild(inv: Inventory, parent: Group, child: string): void {
  if (!parent.children.includes(child)) parent.children.push(child);
  groupOf(inv, child).parents.add(parent.name);
}

/** A group's own vars; ansible_group_priority is the group's priority, not a variable. */
function setGroupVars(g: Group, vars: Vars): Vars {
  const { ansible_group_priority, ...rest } = vars;
  if (ansible_group_priority !== undefined) g.priority = Number(ansible_group_priority);
  Object.assign(g.vars, rest);
  return rest;
}

/** Every group that has no parent (but all and ungrouped) is a child of all. */
function adoptTopLevel(inv: Inventory): void {
  const all = inv.groups.get('all')!;
  for (const g of inv.groups.values()) {
    if (g.name === 'all' || g.name === 'ungrouped' || g.parents.size) continue;
    addChild(inv, all, g.name);
  }
}

/** A vars mapping from an INI file checked against the vars schema; an error points at the line that set it. */
function checkIniVars(vars: Vars, lines: Record<string, [number, number]>, file: string): void {
  const v = generated.vars;
  if (v(vars)) return;
  const err = v.errors![0]!;
  const key = String(err.keyword === 'additionalProperties' ? (err.params as { additionalProperty: string }).additionalProperty : pathOf(err.instancePath)[0]);
  const [line, col] = lines[key] ?? [undefined, undefined];
  if (err.keyword === 'additionalProperties') throw new ConfigError(`unknown variable '${key}'${didYouMean(key, KNOWN_VARS)}`, file, line, col);
  throw new ConfigError(`invalid value ${JSON.stringify(vars[key])} for '${key}'${hint(key)}`, file, line, col);
}

/** An INI inventory as the same model: every group without another parent is a child of all. */
function fromIni(ini: IniInventory, file: string): Inventory {
  const inv = newInventory(file);
  for (const ig of ini.groups.values()) {
    checkIniVars(ig.vars, ig.varLines, file);
    noteOrigins(inv, ig.vars, (k) => ig.varLines[k], file);
    const g = groupOf(inv, ig.name);
    setGroupVars(g, ig.vars);
    for (const c of ig.children) addChild(inv, g, c);
    for (const hn of ig.hosts) addToGroup(inv, g, hn);
  }
  for (const ih of ini.hosts.values()) {
    checkIniVars(ih.vars, ih.varLines, file);
    noteOrigins(inv, ih.vars, (k) => ih.varLines[k], file);
    Object.assign(inv.hosts.get(ih.name)!.vars, ih.vars);
  }
  adoptTopLevel(inv);
  return inv;
}

/** What every inventory gets once its groups and hosts are known: depths, ungrouped, group_vars/ and host_vars/. */
function finish(inv: Inventory, file: string, varsBeside = true): Inventory {
  normalize(inv, file);
  if (varsBeside) loadFileVars(inv, file);
  for (const h of inv.hosts.keys()) for (const w of varWarnings(hostVars(inv, h))) inv.warnings.push(`${h}: ${w}`);
  return inv;
}

/** Depths (cycles are errors), ungrouped, all's children: the same after every change of membership. */
function normalize(inv: Inventory, file: string): void {
  for (const g of inv.groups.values()) g.depth = 0;
  // A cycle anywhere is an error, also among groups that all does not reach.
  const state = new Map<string, 1 | 2>();
  const visit = (name: string) => {
    if (state.get(name) === 2) return;
    if (state.get(name) === 1) throw new ConfigError(`group '${name}' is its own ancestor`, file);
    state.set(name, 1);
    for (const c of inv.groups.get(name)?.children ?? []) visit(c);
    state.set(name, 2);
  };
  for (const name of inv.groups.keys()) visit(name);
  // Top-level groups are children of all; cycles are errors.
  const visiting = new Set<string>();
  const depthOf = (name: string, d: number) => {
    if (visiting.has(name)) throw new ConfigError(`group '${name}' is its own ancestor`, file);
    const g = inv.groups.get(name)!;
    g.depth = Math.max(g.depth, d);
    visiting.add(name);
    for (const c of g.children) depthOf(c, d + 1);
    visiting.delete(name);
  };
  depthOf('all', 0);
  // Hosts in no group but all are in ungrouped.
  const ungrouped = inv.groups.get('ungrouped')!;
  const leaving = new Set<string>();
  for (const h of inv.hosts.values()) {
    h.groups.delete('all');
    // A host in a group of its own is not ungrouped (an INI host listed before the first section, then in one).
    if (h.groups.size > 1 && h.groups.delete('ungrouped')) leaving.add(h.name);
  }
  if (leaving.size) ungrouped.hosts = ungrouped.hosts.filter((x) => !leaving.has(x));
  for (const h of inv.hosts.values()) {
    if (h.groups.size === 0) {
      h.groups.add('ungrouped');
      addUnique(ungrouped.hosts, h.name);
    }
  }
  const all = inv.groups.get('all')!;
  all.hosts = [];
  if (!all.children.includes('ungrouped')) all.children.unshift('ungrouped');
  else all.children = ['ungrouped', ...all.children.filter((c) => c !== 'ungrouped')];
  ungrouped.parents.add('all');
  ungrouped.depth = 1;
}

/**
 * An inventory folder's group_vars/ and host_vars/, over an inventory made of the files in it (as Ansible
 * loads them for a folder source: from the folder itself), with the warnings `finish` gives.
 */
export function addFolderVars(inv: Inventory, folder: string): Inventory {
  resolvedVars.delete(inv);
  loadFileVars(inv, join(folder, '.'), folder);
  for (const h of inv.hosts.keys()) for (const w of varWarnings(hostVars(inv, h))) if (!inv.warnings.includes(`${h}: ${w}`)) inv.warnings.push(`${h}: ${w}`);
  resolvedVars.delete(inv);
  return inv;
}

/** group_vars/ and host_vars/ beside the inventory file. */
function loadFileVars(inv: Inventory, file: string, dir = dirname(file)): void {
  for (const g of inv.groups.values()) g.fileVars = loadVarsDir(join(dir, 'group_vars'), g.name, inv) ?? {};
  for (const h of inv.hosts.values()) h.fileVars = loadVarsDir(join(dir, 'host_vars'), h.name, inv) ?? {};
  for (const extra of [join(dir, 'group_vars'), join(dir, 'host_vars')]) {
    if (!existsSync(extra)) continue;
    const known = extra.endsWith('group_vars') ? inv.groups : inv.hosts;
    for (const f of readdirSync(extra)) {
      const n = f.replace(/\.(ya?ml|json)$/, '');
      if (!known.has(n)) inv.warnings.push(`${join(extra, f)}: no ${extra.endsWith('group_vars') ? 'group' : 'host'} named '${n}' in ${basename(file)}`);
    }
  }
}

/**
 * ansible_* variables that look like typos of ones fleetmasq uses, once each per inventory (not per host:
 * a fact cache or a group sets them on every host), with where each was first seen and how often.
 */
export function findNearMisses(inv: Inventory): NearMiss[] {
  const out = new Map<string, NearMiss>();
  const verdict = new Map<string, string | undefined>();
  const scan = (vars: Vars, where: string) => {
    for (const k of Object.keys(vars)) {
      if (!k.startsWith('ansible_')) continue;
      if (!verdict.has(k)) verdict.set(k, nearMissOf(k, editDistance));
      const suggestion = verdict.get(k);
      if (!suggestion) continue;
      const n = out.get(k);
      if (n) n.count++;
      else out.set(k, { variable: k, suggestion, firstSeen: where, count: 1, ...(inv.varOrigins.has(k) ? { origin: inv.varOrigins.get(k)! } : {}) });
    }
  };
  for (const g of inv.groups.values()) {
    scan(g.vars, `group '${g.name}'`);
    scan(g.fileVars, `group_vars of '${g.name}'`);
  }
  for (const h of inv.hosts.values()) {
    scan(h.vars, `host '${h.name}'`);
    scan(h.fileVars, `host_vars of '${h.name}'`);
  }
  return [...out.values()];
}

/** A host list (`-i a,b:2222,`): hosts in ungrouped, a port as ansible_port. No vars folders: it has no folder. */
export function hostListInventory(label: string, hosts: { name: string; port?: number }[]): Inventory {
  const inv = newInventory(label);
  // As Ansible's host_list: names as written (no ranges).
  for (const h of hosts) {
    for (const name of [h.name]) {
      if (!INVENTORY_HOST_NAME.test(name)) throw new ConfigError(`host list: invalid host name '${name}'`);
      const host = hostOf(inv, name);
      if (h.port !== undefined) host.vars.ansible_port = h.port;
    }
  }
  return finish(inv, label, false);
}

/** Whether JSON data is in `ansible-inventory --list` form (an executable inventory's output). */
export function isListForm(data: unknown): boolean {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return false;
  const d = data as Record<string, unknown>;
  if ('_meta' in d) return true;
  return Object.values(d).some((g) => Array.isArray(g) || (g !== null && typeof g === 'object' && (Array.isArray((g as Record<string, unknown>).hosts) || Array.isArray((g as Record<string, unknown>).children))));
}

/**
 * `ansible-inventory --list` form: groups with hosts (a list), vars and children (a list), or just a
 * list of hosts; host vars in _meta.hostvars, or from `hostVarsOf` (an executable's --host NAME).
 */
export function fromListForm(data: unknown, file: string, hostVarsOf?: (host: string) => unknown, varsBeside = true): Inventory {
  checkDepth(data, file);
  const bad = (what: string) => new ConfigError(`not an inventory in --list form: ${what}`, file);
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw bad('the top level must be a mapping of groups');
  const d = data as Record<string, unknown>;
  const inv = newInventory(file);
  const checkVars = (v: unknown, where: string): Vars => {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw bad(`${where}: vars must be a mapping`);
    const val = generated.vars;
    if (!val(v)) {
      const err = val.errors![0]!;
      const key = String(err.keyword === 'additionalProperties' ? (err.params as { additionalProperty: string }).additionalProperty : pathOf(err.instancePath)[0]);
      throw new ConfigError(err.keyword === 'additionalProperties' ? `${where}: unknown variable '${key}'${didYouMean(key, KNOWN_VARS)}` : `${where}: invalid value ${JSON.stringify((v as Vars)[key])} for '${key}'${hint(key)}`, file);
    }
    return v as Vars;
  };
  const names = (v: unknown, where: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`${where} must be a list of names`);
    return v as string[];
  };
  for (const [name, def] of Object.entries(d)) {
    if (name === '_meta') continue;
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw bad(`invalid group name '${name}'`);
    const g = groupOf(inv, name);
    if (def !== null && typeof def !== 'object') throw bad(`group '${name}' must be a mapping or a list of hosts`);
    const raw = (def ?? {}) as Record<string, unknown>;
    // Ansible's short forms: a list is the group's hosts; a mapping with none of hosts/vars/children is
    // a group of one host of that name, the mapping its vars.
    const o = Array.isArray(def) ? { hosts: def } : !Object.keys(raw).some((k) => ['hosts', 'vars', 'children'].includes(k)) && Object.keys(raw).length ? { hosts: [name], vars: raw } : raw;
    noteOrigins(inv, setGroupVars(g, checkVars(o.vars, `group '${name}'`)), () => undefined, file);
    for (const hn of names(o.hosts, `group '${name}' hosts`)) {
      if (!INVENTORY_HOST_NAME.test(hn)) throw bad(`invalid host name '${hn}'`);
      addToGroup(inv, g, hn);
    }
    for (const c of names(o.children, `group '${name}' children`)) addChild(inv, g, c);
  }
  const meta = (d._meta as { hostvars?: Record<string, unknown> } | undefined)?.hostvars;
  for (const h of inv.hosts.values()) {
    const v = meta ? meta[h.name] : hostVarsOf?.(h.name);
    Object.assign(h.vars, checkVars(v, `host '${h.name}'`));
    noteOrigins(inv, h.vars, () => undefined, file);
  }
  adoptTopLevel(inv);
  return finish(inv, file, varsBeside);
}

/** Several sources as one inventory: groups and hosts joined, later sources' variables over earlier ones'. */
export function mergeInventories(invs: Inventory[]): Inventory {
  const out = newInventory(invs.map((i) => i.file).join(','));
  for (const inv of invs) {
    for (const g of inv.groups.values()) {
      const o = groupOf(out, g.name);
      Object.assign(o.vars, g.vars);
      Object.assign(o.fileVars, g.fileVars);
      if (g.priority !== 1) o.priority = g.priority;
      for (const c of g.children) if (!o.children.includes(c)) o.children.push(c);
      for (const p of g.parents) o.parents.add(p);
      for (const h of g.hosts) addUnique(o.hosts, h);
    }
    for (const h of inv.hosts.values()) {
      const o = hostOf(out, h.name);
      Object.assign(o.vars, h.vars);
      Object.assign(o.fileVars, h.fileVars);
      for (const g of h.groups) o.groups.add(g);
    }
    for (const w of inv.warnings) if (!out.warnings.includes(w)) out.warnings.push(w);
    for (const [k, where] of inv.varOrigins) if (!out.varOrigins.has(k)) out.varOrigins.set(k, where);
  }
  normalize(out, out.file);
  return out;
}

/** All groups a host belongs to, transitively (including all). */
export function hostGroups(inv: Inventory, host: string): Group[] {
  const out = new Map<string, Group>();
  const add = (name: string) => {
    if (out.has(name)) return;
    const g = inv.groups.get(name)!;
    out.set(name, g);
    for (const p of g.parents) add(p);
  };
  for (const g of inv.hosts.get(host)!.groups) add(g);
  add('all');
  return [...out.values()];
}

function groupOrder(a: Group, b: Group): number {
  return a.depth - b.depth || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Resolved vars per inventory: the inventory does not change once loaded, so each host's are merged once. */
const resolvedVars = new WeakMap<Inventory, Map<string, Readonly<Vars>>>();

/** A host's variables with Ansible's precedence (computed once per host; read-only). */
export function hostVars(inv: Inventory, host: string): Readonly<Vars> {
  let cache = resolvedVars.get(inv);
  if (!cache) resolvedVars.set(inv, (cache = new Map()));
  let vars = cache.get(host);
  if (!vars) cache.set(host, (vars = Object.freeze(mergeHostVars(inv, host))));
  return vars;
}

function mergeHostVars(inv: Inventory, host: string): Vars {
  const h = inv.hosts.get(host);
  if (!h) throw new ConfigError(`no host '${host}' in the inventory`, inv.file);
  const groups = hostGroups(inv, host)
    .filter((g) => g.name !== 'all')
    .sort(groupOrder);
  const all = inv.groups.get('all')!;
  const out: Vars = { ...all.vars };
  for (const g of groups) Object.assign(out, g.vars);
  Object.assign(out, all.fileVars);
  for (const g of groups) Object.assign(out, g.fileVars);
  Object.assign(out, h.vars, h.fileVars);
  return out;
}

/** Like `ansible-inventory --list`. */
export function inventoryList(inv: Inventory): Record<string, unknown> {
  const out: Record<string, unknown> = {
    // As Ansible: hosts without any variable are not listed.
    _meta: { hostvars: Object.fromEntries([...inv.hosts.keys()].map((h) => [h, hostVars(inv, h)]).filter(([, v]) => Object.keys(v as Vars).length)) },
  };
  for (const g of inv.groups.values()) {
    const e: Record<string, unknown> = {};
    if (g.hosts.length) e.hosts = [...g.hosts];
    if (g.children.length) e.children = [...g.children];
    if (g.name === 'all' || Object.keys(e).length) out[g.name] = e;
  }
  return out;
}

/** Like `ansible-inventory --graph`. */
export function inventoryGraph(inv: Inventory, root = 'all'): string {
  const lines: string[] = [];
  const walk = (name: string, indent: string) => {
    const g = inv.groups.get(name)!;
    lines.push(`${indent}@${name}:`);
    const sub = indent ? `${indent.slice(0, -3)}|  |--` : '  |--';
    for (const c of g.children) walk(c, sub);
    for (const h of g.hosts) lines.push(`${sub}${h}`);
  };
  walk(root, '');
  return lines.join('\n');
}
