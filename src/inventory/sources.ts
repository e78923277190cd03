/**
 * Inventory sources as Ansible takes them: a YAML or INI file, an executable inventory (run with
 * --list, and --host NAME when its output has no _meta), a JSON file in `ansible-inventory --list` form,
 * or a host list (`-i a,b,` — Ansible's trailing-comma form). Several sources (several -i, or a list in
 * ANSIBLE_INVENTORY / ansible.cfg) make one inventory, later ones setting variables over earlier ones.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '../errors.js';
import { nearMissText } from './vars.js';
import { addFolderVars, expandHostRange, findNearMisses, fromListForm, loadInventory, mergeInventories, hostListInventory, type Inventory } from './inventory.js';
import { splitHostPort } from './ini.js';

/** How long an executable inventory may take (Ansible has no limit; a hung script must not hang a run). */
function scriptTimeoutMs(): number {
  const s = Number(process.env.FLEETMASQ_INVENTORY_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 60_000;
}

export function isHostList(source: string): boolean {
  return !existsSync(source) && source.includes(',') && !source.includes('/');
}

/** An executable inventory: a file with the exec bit that starts with `#!` (a data file that happens to be executable is read as data, as Ansible falls back to its parsers). */
function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(2);
      return readSync(fd, head, 0, 2, 0) === 2 && head.toString() === '#!';
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * The environment an inventory program gets: ours without secrets it has no use for (the sudo password,
 * key passphrases, any FLEETMASQ_* or ANSIBLE_* variable that names a password, secret or token). A
 * cloud inventory keeps its own credentials (AWS_*, …): it needs them.
 */
export function inventoryEnv(env: NodeJS.ProcessEnv = process.env, forAnsible = false): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    // ansible-inventory keeps Ansible's vault settings: a plugin config may hold vaulted values.
    if (forAnsible && /^ANSIBLE_VAULT/i.test(k)) out[k] = v;
    else if (/^(FLEETMASQ|ANSIBLE)_/i.test(k) && /PASS|SECRET|TOKEN|VAULT|BECOME/i.test(k)) continue;
    out[k] = v;
  }
  return out;
}

function runScript(path: string, args: string[]): unknown {
  // By its full path (a bare name is never looked up on PATH); SIGKILL when its time is up, so a
  // script that ignores SIGTERM cannot outlast the limit.
  const r = spawnSync(resolve(path), args, { env: inventoryEnv(), encoding: 'utf8', timeout: scriptTimeoutMs(), killSignal: 'SIGKILL', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  const what = `executable inventory '${path} ${args.join(' ')}'`;
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ETIMEDOUT' ? `${what} did not finish within ${scriptTimeoutMs() / 1000} s (FLEETMASQ_INVENTORY_TIMEOUT sets the limit)` : `${what} could not run: ${code ?? r.error.message}`);
  }
  if (r.status !== 0) throw new ConfigError(`${what} failed (exit ${r.status ?? r.signal})${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new ConfigError(`${what} did not print JSON${r.stdout.trim() ? ` (it printed: ${JSON.stringify(r.stdout.trim().slice(0, 80))})` : ' (it printed nothing)'}`);
  }
}

/**
 * An inventory plugin config: a .yml/.yaml file whose top-level mapping names a `plugin:` (Ansible's
 * auto plugin reads only those suffixes). Its plugin is Ansible's (a cloud API with its credentials and
 * caches, or constructed over the sources before it), so ansible-inventory reads it.
 */
export function pluginOf(source: string): string | undefined {
  if (!/\.ya?ml$/i.test(source)) return undefined;
  let text: string;
  try {
    if (!statSync(source).isFile()) return undefined;
    text = readFileSync(source, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^plugin[ \t]*:[ \t]*['"]?([A-Za-z0-9_.]+)['"]?[ \t]*(?:#.*)?$/m.exec(text);
  return m?.[1];
}

function pluginWorkaround(source: string): string {
  return `ansible-inventory -i ${source} --list > inventory.json, then -i inventory.json`;
}

/**
 * Every source read by ansible-inventory, once, as one inventory (plugin configs such as constructed work
 * on the sources before them, so the order and the company matter). The same time limit and errors as an
 * executable inventory; no password or secret of fleetmasq's in its environment.
 */
function viaAnsibleInventory(sources: string[], plugins: [string, string][]): Inventory {
  const args = [...sources.flatMap((s) => ['-i', s]), '--list'];
  const [file, plugin] = plugins[0]!;
  const what = `${file} is an inventory plugin config (plugin: ${plugin})`;
  const r = spawnSync('ansible-inventory', args, {
    // A source Ansible cannot parse is an error, not an empty inventory with a warning.
    env: { ...inventoryEnv(process.env, true), ANSIBLE_INVENTORY_UNPARSED_FAILED: 'True', ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED: 'True', ANSIBLE_NOCOLOR: '1' },
    encoding: 'utf8',
    timeout: scriptTimeoutMs(),
    killSignal: 'SIGKILL',
    maxBuffer: 256 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`${what}: Ansible's plugin reads it, and ansible-inventory (ansible-core) is not installed here. Install ansible-core, or run where it is: ${pluginWorkaround(file)}`);
    throw new ConfigError(code === 'ETIMEDOUT' ? `ansible-inventory ${args.join(' ')} did not finish within ${scriptTimeoutMs() / 1000} s (FLEETMASQ_INVENTORY_TIMEOUT sets the limit)` : `ansible-inventory could not run: ${code ?? r.error.message}`);
  }
  if (r.status !== 0) {
    const err = r.stderr.replace(/\s+/g, ' ');
    const unknown = /specifies unknown plugin '([^']+)'/.exec(err);
    if (unknown) {
      const collection = unknown[1]!.split('.').length === 3 ? unknown[1]!.split('.').slice(0, 2).join('.') : undefined;
      throw new ConfigError(`${what}: ansible-core here does not have the plugin '${unknown[1]}'${collection ? ` (ansible-galaxy collection install ${collection})` : ''}. Install it, or run where it is: ${pluginWorkaround(file)}`);
    }
    const last = r.stderr.trim().split('\n').filter((l) => l.trim()).slice(-3).join(' | ');
    throw new ConfigError(`ansible-inventory ${args.join(' ')} failed (exit ${r.status ?? r.signal})${last ? `: ${last}` : ''}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(r.stdout);
  } catch {
    throw new ConfigError(`ansible-inventory ${args.join(' ')} did not print JSON`);
  }
  // Its output already holds group_vars/ and host_vars/ beside each source.
  return fromListForm(data, sources.join(','), undefined, false);
}

/**
 * What Ansible skips in an inventory folder: hidden names, group_vars, host_vars, vars_plugins, and the
 * default inventory_ignore_extensions (REJECT_EXTS and .orig .ini .cfg .retry — yes, .ini).
 */
const IGNORED_IN_FOLDER = /^\.|^host_vars$|^group_vars$|^vars_plugins$|(\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$/;

function isFolder(source: string): boolean {
  try {
    return statSync(source).isDirectory();
  } catch {
    return false;
  }
}

/** The files of an inventory folder in the order Ansible reads them: sorted, folders in it recursively. */
export function folderFiles(folder: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (e) {
    throw new ConfigError(`cannot read the inventory folder: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, folder);
  }
  // Python sorts the names as bytes.
  for (const n of names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
    if (IGNORED_IN_FOLDER.test(n)) continue;
    const p = join(folder, n);
    if (isFolder(p)) out.push(...folderFiles(p));
    else out.push(p);
  }
  return out;
}

/** An inventory folder (-i DIR): every file in it, in Ansible's order, then the folder's group_vars/ and host_vars/. */
function loadFolder(folder: string, known: Set<string>): Inventory {
  const files = folderFiles(folder);
  if (!files.length) throw new ConfigError('an inventory folder with no inventory file in it (Ansible skips hidden files, group_vars, host_vars and .ini .cfg .retry .orig .bak .md .txt … files in a folder)', folder);
  const invs = sequence(files, false, known);
  const inv = invs.length === 1 ? invs[0]! : mergeInventories(invs);
  inv.file = folder;
  return addFolderVars(inv, folder);
}

/** Sources read in order, each knowing the groups the ones before it defined (as Ansible's one inventory does). */
function sequence(sources: string[], varsBeside: boolean, known = new Set<string>()): Inventory[] {
  return sources.map((s) => {
    const inv = loadSource(s, varsBeside, known);
    for (const g of inv.groups.keys()) known.add(g);
    return inv;
  });
}

function loadSource(source: string, varsBeside = true, known = new Set<string>()): Inventory {
  if (isFolder(source)) return loadFolder(source, known);
  if (isHostList(source)) {
    const hosts: { name: string; port?: number }[] = [];
    for (const part of source.split(',').map((s) => s.trim()).filter(Boolean)) {
      const hp = splitHostPort(part);
      if (!hp) throw new ConfigError(`host list '${source}': '${part}' is not a host or host:port`);
      hosts.push({ name: hp.host, ...(hp.port !== undefined ? { port: hp.port } : {}) });
    }
    return hostListInventory(source, hosts);
  }
  if (isExecutableFile(source)) {
    const data = runScript(source, ['--list']);
    return fromListForm(data, source, (host) => runScript(source, ['--host', host]), varsBeside);
  }
  return loadInventory(source, varsBeside, known);
}

export interface LoadOptions {
  /** Near misses of variables fleetmasq uses (`ansible_usr`) are errors, not warnings (--strict-vars). */
  strictVars?: boolean;
}

/** One inventory from every source, in order. */
export function loadSources(sources: string[], opts: LoadOptions = {}): Inventory {
  if (!sources.length) throw new ConfigError('no inventory: give -i FILE (or set ANSIBLE_INVENTORY, or inventory in ansible.cfg)');
  const plugins = sources.flatMap((s) => (isFolder(s) ? folderFiles(s) : [s])).flatMap((s): [string, string][] => {
    const p = pluginOf(s);
    return p ? [[s, p]] : [];
  });
  const invs = plugins.length ? [viaAnsibleInventory(sources, plugins)] : sequence(sources, true);
  const inv = invs.length === 1 ? invs[0]! : mergeInventories(invs);
  const misses = findNearMisses(inv);
  if (misses.length && opts.strictVars)
    throw new ConfigError(`${nearMissText(misses[0]!)}${misses.length > 1 ? `; ${misses.length - 1} more: ${misses.slice(1).map((m) => m.variable).join(', ')}` : ''} (strict vars: near misses of fleetmasq's variables are errors)`, misses[0]!.origin ? undefined : inv.file);
  for (const m of misses) inv.warnings.push(`${nearMissText(m)}: fleetmasq ignores it (--strict-vars makes this an error)`);
  return inv;
}

export { expandHostRange };
