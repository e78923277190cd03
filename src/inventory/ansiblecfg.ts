/**
 * The ansible.cfg that Ansible would find, and the settings fleetmasq takes from it, each with where it
 * came from (for `fleetmasq config`). Ansible's order: $ANSIBLE_CONFIG (a file, or a folder holding
 * ansible.cfg), ./ansible.cfg (not in a world-writable folder), ~/.ansible.cfg, /etc/ansible/ansible.cfg;
 * the first that exists is the only one read. An environment variable beats the file; a flag beats both.
 * Read as Python's configparser reads it for Ansible: `key = value` or `key: value`, `#`/`;` comment
 * lines, `;` inline comments after whitespace, continuation lines indented.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';

export interface Setting<T> {
  value: T;
  /** 'default', 'env: NAME', or 'FILE: [section] key' */
  origin: string;
}

export interface AnsibleSettings {
  /** The config file read (none: defaults and environment only). */
  file?: string;
  /** Why ./ansible.cfg was skipped, if it was. */
  warnings: string[];
  inventory: Setting<string[]>;
  remoteUser?: Setting<string>;
  privateKeyFile?: Setting<string>;
  forks: Setting<number>;
  timeout: Setting<number>;
  hostKeyChecking: Setting<boolean>;
  /** fleetmasq's own: near misses of the variables it uses are errors (FLEETMASQ_STRICT_VARS, or [fleetmasq] strict_vars). */
  strictVars: Setting<boolean>;
}

/** Where Ansible looks for its config file, in order. */
export function findConfigFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { file?: string; warnings: string[] } {
  const warnings: string[] = [];
  const paths: string[] = [];
  if (env.ANSIBLE_CONFIG !== undefined) {
    let p = expandUser(env.ANSIBLE_CONFIG, env);
    if (existsSync(p) && statSync(p).isDirectory()) p = join(p, 'ansible.cfg');
    paths.push(resolve(p));
  }
  const cwdCfg = join(cwd, 'ansible.cfg');
  try {
    if (statSync(cwd).mode & 0o002) {
      if (existsSync(cwdCfg)) warnings.push(`${cwdCfg} is ignored: its folder is world-writable (as Ansible ignores it)`);
    } else paths.push(cwdCfg);
  } catch {
    // No cwd: nothing to look at there.
  }
  paths.push(join(env.HOME || homedir(), '.ansible.cfg'), '/etc/ansible/ansible.cfg');
  return { file: paths.find((p) => existsSync(p) && statSync(p).isFile()), warnings };
}

function expandUser(p: string, env: NodeJS.ProcessEnv = process.env): string {
  return p === '~' || p.startsWith('~/') ? join(env.HOME || homedir(), p.slice(1)) : p;
}

/** configparser's reading of a file: sections of keys (lower-cased), with the line each was set on. */
export function parseCfg(text: string, file: string): Map<string, Map<string, { value: string; line: number }>> {
  const out = new Map<string, Map<string, { value: string; line: number }>>();
  let section: Map<string, { value: string; line: number }> | undefined;
  let last: { value: string; line: number } | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (!raw.trim() || /^\s*[#;]/.test(raw)) continue;
    if (/^\s/.test(raw) && last) {
      last.value += `\n${raw.trim()}`;
      continue;
    }
    const sec = /^\[([^\]]+)\]\s*$/.exec(raw.trim());
    if (sec) {
      if (!out.has(sec[1]!)) out.set(sec[1]!, new Map());
      section = out.get(sec[1]!)!;
      last = undefined;
      continue;
    }
    // `key = value` split at the first = or : (found by search, not a backtracking pattern: linear in the line).
    const line = raw.trim();
    const eq = line.search(/[=:]/);
    const key = eq > 0 ? line.slice(0, eq).trim() : '';
    if (!key) throw new ConfigError(`not a 'key = value' line: ${line.length > 80 ? `${line.slice(0, 80)}…` : line}`, file, i + 1, 1);
    if (!section) throw new ConfigError('a setting before any [section]', file, i + 1, 1);
    // An inline comment starts at ';' after whitespace (configparser with inline_comment_prefixes=(';',)).
    let value = line.slice(eq + 1);
    const semi = /\s;/.exec(value);
    if (semi) value = value.slice(0, semi.index);
    section.set(key.toLowerCase(), (last = { value: value.trim(), line: i + 1 }));
  }
  return out;
}

/** Ansible's booleans. */
export function ansibleBool(v: string, what: string): boolean {
  const s = v.trim().toLowerCase();
  if (['y', 'yes', 'on', '1', 'true', 't'].includes(s)) return true;
  if (['n', 'no', 'off', '0', 'false', 'f'].includes(s)) return false;
  throw new ConfigError(`${what}: '${v}' is not a boolean (true/false, yes/no, on/off, 1/0)`);
}

export function loadAnsibleSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AnsibleSettings {
  const { file, warnings } = findConfigFile(env, cwd);
  const cfg = file ? parseCfg(readFileSync(file, 'utf8'), file) : new Map();
  const defaults = cfg.get('defaults');
  const pick = (key: string, envName: string): { value: string; origin: string; basedir?: string } | undefined => {
    if (env[envName] !== undefined && env[envName] !== '') return { value: env[envName]!, origin: `env: ${envName}` };
    const v = defaults?.get(key);
    if (v !== undefined) return { value: v.value, origin: `${file}:${v.line}: [defaults] ${key}`, basedir: dirname(file!) };
    return undefined;
  };
  const int = (key: string, envName: string, dflt: number): Setting<number> => {
    const p = pick(key, envName);
    if (!p) return { value: dflt, origin: 'default' };
    if (!/^\d+$/.test(p.value.trim())) throw new ConfigError(`${p.origin}: '${p.value}' is not a whole number`);
    return { value: Number(p.value), origin: p.origin };
  };
  const path = (v: string, basedir?: string) => {
    const e = expandUser(v.replace(/\$\{?(\w+)\}?/g, (_, n: string) => env[n] ?? ''), env);
    return isAbsolute(e) ? e : resolve(basedir ?? cwd, e);
  };
  const inv = pick('inventory', 'ANSIBLE_INVENTORY');
  const user = pick('remote_user', 'ANSIBLE_REMOTE_USER');
  const key = pick('private_key_file', 'ANSIBLE_PRIVATE_KEY_FILE');
  const hkc = pick('host_key_checking', 'ANSIBLE_HOST_KEY_CHECKING');
  // In a [fleetmasq] section of its own (Ansible ignores sections it does not know).
  const sv = cfg.get('fleetmasq')?.get('strict_vars');
  const strictVars: Setting<boolean> =
    env.FLEETMASQ_STRICT_VARS !== undefined && env.FLEETMASQ_STRICT_VARS !== ''
      ? { value: ansibleBool(env.FLEETMASQ_STRICT_VARS, 'env: FLEETMASQ_STRICT_VARS'), origin: 'env: FLEETMASQ_STRICT_VARS' }
      : sv
        ? { value: ansibleBool(sv.value, `${file}:${sv.line}: [fleetmasq] strict_vars`), origin: `${file}:${sv.line}: [fleetmasq] strict_vars` }
        : { value: false, origin: 'default' };
  return {
    ...(file ? { file } : {}),
    warnings,
    inventory: inv
      ? {
          // A pathlist: comma-separated, each resolved against the config file's folder. A host list
          // (`a,b,`) given in the environment stays a host list.
          value: inv.origin.startsWith('env:') && !existsSync(inv.value) && inv.value.includes(',') && !inv.value.includes('/')
            ? [inv.value]
            : inv.value.split(',').map((x) => x.trim()).filter(Boolean).map((x) => path(x, inv.basedir)),
          origin: inv.origin,
        }
      : { value: ['/etc/ansible/hosts'], origin: 'default' },
    ...(user ? { remoteUser: { value: user.value.trim(), origin: user.origin } } : {}),
    ...(key ? { privateKeyFile: { value: path(key.value, key.basedir), origin: key.origin } } : {}),
    forks: int('forks', 'ANSIBLE_FORKS', 5),
    timeout: int('timeout', 'ANSIBLE_TIMEOUT', 10),
    hostKeyChecking: hkc ? { value: ansibleBool(hkc.value, hkc.origin), origin: hkc.origin } : { value: true, origin: 'default' },
    strictVars,
  };
}
