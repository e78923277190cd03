/** The inventory sources and Ansible defaults of a run: flags, then the environment, then ansible.cfg. */
import { existsSync } from 'node:fs';
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
