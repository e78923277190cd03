/**
 * Inventory sources as Ansible takes them: a YAML or INI file, an executable inventory (run with
 * --list, and --host NAME when its output has no _meta), a JSON file in `ansible-inventory --list` form,
 * or a host list (`-i a,b,` — Ansible's trailing-comma form). Several sources (several -i, or a list in
 * ANSIBLE_INVENTORY / ansible.cfg) make one inventory, later ones setting variables over earlier ones.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '../errors.js';
import { nearMissText } from './vars.js';
import { expandHostRange, findNearMisses, fromListForm, loadInventory, mergeInventories, hostListInventory, type Inventory } from './inventory.js';
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
export function inventoryEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (/^(FLEETMASQ|ANSIBLE)_/i.test(k) && /PASS|SECRET|TOKEN|VAULT/i.test(k)) continue;
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

function loadSource(source: string): Inventory {
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
    return fromListForm(data, source, (host) => runScript(source, ['--host', host]));
  }
  return loadInventory(source);
}

export interface LoadOptions {
  /** Near misses of variables fleetmasq uses (`ansible_usr`) are errors, not warnings (--strict-vars). */
  strictVars?: boolean;
}

/** One inventory from every source, in order. */
export function loadSources(sources: string[], opts: LoadOptions = {}): Inventory {
  if (!sources.length) throw new ConfigError('no inventory: give -i FILE (or set ANSIBLE_INVENTORY, or inventory in ansible.cfg)');
  const invs = sources.map(loadSource);
  const inv = invs.length === 1 ? invs[0]! : mergeInventories(invs);
  const misses = findNearMisses(inv);
  if (misses.length && opts.strictVars)
    throw new ConfigError(`${nearMissText(misses[0]!)}${misses.length > 1 ? `; ${misses.length - 1} more: ${misses.slice(1).map((m) => m.variable).join(', ')}` : ''} (strict vars: near misses of fleetmasq's variables are errors)`, inv.file);
  for (const m of misses) inv.warnings.push(`${nearMissText(m)}: fleetmasq ignores it (--strict-vars makes this an error)`);
  return inv;
}

export { expandHostRange };
