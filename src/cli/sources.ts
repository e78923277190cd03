/** The inventory sources and Ansible defaults of a run: flags, then the environment, then ansible.cfg. */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { USER_PATTERN } from '../inventory/vars.js';
import { ConfigError } from '../errors.js';
import { loadAnsibleSettings, type AnsibleSettings } from '../inventory/ansiblecfg.js';
import type { FlagValues } from './commands.js';

export interface RunSources {
  sources: string[];
  /** The sources in one line, for reports and run records. */
  label: string;
  settings: AnsibleSettings;
  /** --strict-vars, else the setting: near misses of fleetmasq's variables are errors. */
  strictVars: boolean;
}

/**
 * -u USER and --private-key FILE, as Ansible takes them: over remote_user / private_key_file (ansible.cfg,
 * environment) for the run; a host's own ansible_user / ansible_ssh_private_key_file still wins. Checked
 * before any robot is contacted: a user name OpenSSH accepts, a key file that can be read.
 */
export function connectionFlags(values: Pick<FlagValues, 'user' | 'private-key'>): { defaultUser?: string; defaultIdentityFile?: string } {
  const out: { defaultUser?: string; defaultIdentityFile?: string } = {};
  if (values.user !== undefined) {
    if (!new RegExp(USER_PATTERN).test(values.user)) throw new ConfigError(`-u/--user ${JSON.stringify(values.user)} is not a user name (a-z, 0-9, _ . -; up to 32)`);
    out.defaultUser = values.user;
  }
  const key = values['private-key'];
  if (key !== undefined) {
    const file = resolve(key);
    try {
      if (!statSync(file).isFile()) throw new ConfigError(`--private-key ${key}: not a file`);
      accessSync(file, constants.R_OK);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError(`--private-key ${key}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    out.defaultIdentityFile = file;
  }
  return out;
}

export function runSources(values: Pick<FlagValues, 'inventory' | 'host-key-checking' | 'strict-vars'>): RunSources {
  const settings = loadAnsibleSettings();
  if (!settings.hostKeyChecking.value && values['host-key-checking'] === undefined)
    settings.warnings.push(`host keys are NOT checked: host_key_checking is false (${settings.hostKeyChecking.origin}), as Ansible would; --host-key-checking strict checks them`);
  const given = values.inventory ?? [];
  const sources = given.length ? given : settings.inventory.value;
  if (!given.length && settings.inventory.origin === 'default' && !existsSync(sources[0]!))
    throw new ConfigError('-i/--inventory SOURCE is required (or set ANSIBLE_INVENTORY, or inventory in ansible.cfg)');
  return { sources, label: sources.join(','), settings, strictVars: values['strict-vars'] ?? settings.strictVars.value };
}
