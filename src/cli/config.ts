/** `fleetmasq config`: the Ansible settings fleetmasq uses, their values and where each came from. */
import { EXIT } from '../errors.js';
import { loadAnsibleSettings } from '../inventory/ansiblecfg.js';
import { redactUrl } from '../store/db.js';
import { controllerName, storeConfig } from '../store/store.js';
import type { FlagValues } from './commands.js';
import type { Out } from './output.js';

export function configCommand(values: FlagValues, io: Out): number {
  const s = loadAnsibleSettings();
  const given = values.inventory ?? [];
  const rows: { setting: string; value: string; origin: string; note?: string }[] = [
    given.length
      ? { setting: 'inventory', value: given.join(','), origin: 'flag: -i' }
      : { setting: 'inventory', value: s.inventory.value.join(','), origin: s.inventory.origin },
    { setting: 'remote_user', value: s.remoteUser?.value ?? '-', origin: s.remoteUser?.origin ?? 'default', note: s.remoteUser ? undefined : 'ansible_user, else ~/.ssh/config, else your login name' },
    { setting: 'private_key_file', value: s.privateKeyFile?.value ?? '-', origin: s.privateKeyFile?.origin ?? 'default', note: s.privateKeyFile ? undefined : 'ansible_ssh_private_key_file, else ~/.ssh/config, else ~/.ssh/id_*' },
    s.forks.origin === 'default'
      ? { setting: 'forks', value: '50', origin: 'default', note: "fleetmasq's default (Ansible's is 5)" }
      : { setting: 'forks', value: String(s.forks.value), origin: s.forks.origin },
    { setting: 'timeout', value: String(s.timeout.value), origin: s.timeout.origin, note: 'SSH connect timeout, s' },
    {
      setting: 'host_key_checking',
      value: String(s.hostKeyChecking.value),
      origin: s.hostKeyChecking.origin,
      note: s.hostKeyChecking.value ? 'known_hosts checked (strict unless ~/.ssh/config says otherwise)' : 'OFF: host keys are not checked (--host-key-checking overrides)',
    },
  ];
  // Where the fleet's memory lives (a team shares one PostgreSQL store); a password is never shown.
  const st = storeConfig();
  rows.push(
    { setting: 'store', value: st.kind === 'postgres' ? redactUrl(st.target) : `sqlite:${st.target}`, origin: st.from, note: st.kind === 'postgres' ? 'shared PostgreSQL' : 'embedded SQLite' },
    { setting: 'controller', value: controllerName(), origin: process.env.FLEETMASQ_CONTROLLER?.trim() ? 'FLEETMASQ_CONTROLLER' : 'host name', note: 'named in every run record' },
  );
  const file = s.file ?? null;
  if (values.json) {
    io.out(JSON.stringify({ configFile: file, searched: searched(), warnings: s.warnings, settings: rows }, null, 2));
    return EXIT.OK;
  }
  io.out(`config file: ${file ?? `none (searched: ${searched().join(', ')})`}`);
  for (const w of s.warnings) io.out(`warning: ${w}`);
  const w = Math.max(...rows.map((r) => r.setting.length));
  const v = Math.max(...rows.map((r) => r.value.length));
  for (const r of rows) io.out(`${r.setting.padEnd(w)}  ${r.value.padEnd(v)}  from ${r.origin}${r.note ? `  (${r.note})` : ''}`);
  return EXIT.OK;
}

function searched(): string[] {
  return [...(process.env.ANSIBLE_CONFIG !== undefined ? ['$ANSIBLE_CONFIG'] : []), './ansible.cfg', '~/.ansible.cfg', '/etc/ansible/ansible.cfg'];
}
