/**
 * Inventory variables: which ones exist, their shape, and how fleetmasq reads a host's connection settings.
 */
import { COMMAND_PATTERN } from '../remote/reboot.js';
export const IFACE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\\+?$';
/** A list of interfaces (uplinks that come and go), as one comma-joined string. */
export const IFACE_LIST_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\\+?(,[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\\+?)*$';
export const USER_PATTERN = '^[a-z_][a-z0-9_.-]{0,31}\\$?$';
/**
 * An inventory host name, as Ansible allows it: any letters (příbor, 東京-01), digits and punctuation, no
 * spaces or control characters. It is a label; when it is also the address (no ansible_host), the
 * transport checks it as OpenSSH checks a host name before it reaches SSH, a ProxyCommand or a shell.
 */
export const INVENTORY_HOST_NAME = /^[^\s\p{Cc}\p{Z}]+$/u;
export const HOST_PATTERN = '^([A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?|\\[?[0-9A-Fa-f:.]+\\]?)$';

const boolish = { anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['yes', 'no', 'true', 'false', 'True', 'False', 'on', 'off'] }] };
const port = { anyOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, { type: 'string', pattern: '^[0-9]{1,5}$' }] };
const str = { type: 'string' };

/** Ansible variables fleetmasq uses, with their schemas. */
export const USED_VARS: Record<string, object> = {
  ansible_host: { type: 'string', pattern: HOST_PATTERN },
  ansible_ssh_host: { type: 'string', pattern: HOST_PATTERN },
  ansible_port: port,
  ansible_ssh_port: port,
  ansible_user: { type: 'string', pattern: USER_PATTERN },
  ansible_ssh_user: { type: 'string', pattern: USER_PATTERN },
  ansible_ssh_private_key_file: str,
  ansible_private_key_file: str,
  ansible_ssh_private_key_passphrase: str,
  ansible_ssh_common_args: str,
  ansible_ssh_extra_args: str,
  ansible_become: boolish,
  ansible_become_user: { type: 'string', pattern: USER_PATTERN },
  ansible_become_method: str,
  ansible_become_password: str,
  ansible_become_pass: str,
  ansible_connection: str,
  ansible_timeout: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]+$' }] },
  ansible_ssh_retries: { anyOf: [{ type: 'integer', minimum: 0, maximum: 100 }, { type: 'string', pattern: '^[0-9]{1,2}$' }] },
  ansible_group_priority: { type: 'integer' },
};

/** Ansible variables fleetmasq accepts but does not use (some change Ansible's behaviour: see warnings). */
export const OTHER_ANSIBLE_VARS = [
  'ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password', 'ansible_python_interpreter', 'ansible_shell_type',
  'ansible_shell_executable', 'ansible_ssh_args', 'ansible_sftp_extra_args', 'ansible_scp_extra_args',
  'ansible_ssh_pipelining', 'ansible_pipelining', 'ansible_ssh_executable', 'ansible_ssh_timeout', 'ansible_become_exe',
  'ansible_become_flags', 'ansible_network_os', 'ansible_ssh_transfer_method', 'ansible_scp_if_ssh',
  'ansible_host_key_checking', 'ansible_ssh_host_key_checking', 'ansible_remote_tmp',
  'ansible_ssh_use_tty', 'ansible_connection_timeout', 'ansible_command_timeout', 'ansible_os_family',
  'ansible_distribution', 'ansible_winrm_transport', 'ansible_winrm_server_cert_validation', 'ansible_port_number',
  'ansible_become_ask_pass', 'ansible_paramiko_host_key_checking',
];

/** masquerade_persistence / --persistence / the persist module's method. */
export const PERSISTENCE_MODES = ['systemd', 'rc.local', 'auto', 'external'] as const;
export type PersistenceMode = (typeof PERSISTENCE_MODES)[number];

export const MASQUERADE_VARS: Record<string, object> = {
  masquerade_interface: {
    anyOf: [
      { type: 'string', const: 'auto' },
      { type: 'string', pattern: IFACE_LIST_PATTERN },
      { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: IFACE_PATTERN } },
    ],
  },
  masquerade_persistence: { type: 'string', enum: [...PERSISTENCE_MODES] },
  /** The named interface may not exist yet (a USB hotspot that appears later): apply anyway. */
  masquerade_allow_absent_interface: boolish,
  /** diagnose: the STUN server (HOST:PORT) the robot asks for its public address. */
  masquerade_stun_server: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}:[0-9]{1,5}$' },
  /** Where the live rule lives: iptables' nat table, fleetmasq's own nftables table, or auto (nft when iptables is absent). */
  masquerade_backend: { type: 'string', enum: ['auto', 'iptables', 'nft'] },
  /** reboot: the robot's own reboot command (a vendor tool, `shutdown -r +0`): a plain command line (src/remote/reboot.ts). */
  masquerade_reboot_command: { type: 'string', pattern: COMMAND_PATTERN },
  /** reboot: what tells one boot from the next (default: the kernel's boot_id): a plain command line. */
  masquerade_boot_id_command: { type: 'string', pattern: COMMAND_PATTERN },
};

export const KNOWN_VARS = new Set([...Object.keys(USED_VARS), ...OTHER_ANSIBLE_VARS, ...Object.keys(MASQUERADE_VARS)]);

/**
 * JSON schema of a vars mapping: the variables fleetmasq uses are checked; any other variable is allowed
 * (dynamic inventories and fact caches set many ansible_* ones: ansible_distribution, ansible_ec2_*), but
 * masquerade_* is fleetmasq's own namespace: an unknown one there is an error.
 */
export const VARS_SCHEMA = {
  type: ['object', 'null'],
  properties: {
    ...USED_VARS,
    ...Object.fromEntries(OTHER_ANSIBLE_VARS.map((k) => [k, {}])),
    ...MASQUERADE_VARS,
  },
  patternProperties: { '^(?!masquerade_)': {} },
  additionalProperties: false,
};

/** An ansible_* variable fleetmasq does not know that is one or two edits from one it uses (a typo, most likely). */
export interface NearMiss {
  variable: string;
  /** The variable fleetmasq uses that it is close to. */
  suggestion: string;
  /** Where it was first seen (a host, group or file), and on how many hosts and groups in all. */
  firstSeen: string;
  count: number;
  /** The file (and line:col) where it was first set, when known. */
  origin?: string;
}

/** How far (edits) a name may be from a used variable to count as its near miss: `ansible_usr`, `ansible_prot`, not `ansible_uuid`. */
const NEAR = 2;

/** The used variable `name` is a near miss of, if any (not for variables Ansible itself knows). */
export function nearMissOf(name: string, distance: (a: string, b: string) => number): string | undefined {
  if (!name.startsWith('ansible_') || KNOWN_VARS.has(name)) return undefined;
  let best: string | undefined;
  let bestD = NEAR + 1;
  for (const used of Object.keys(USED_VARS)) {
    if (Math.abs(used.length - name.length) > NEAR) continue;
    const d = distance(name, used);
    if (d < bestD) (best = used), (bestD = d);
  }
  return best;
}

export function nearMissText(n: NearMiss): string {
  return `${n.origin ? `${n.origin}: ` : ''}unknown variable '${n.variable}' (did you mean '${n.suggestion}'?) on ${n.firstSeen}${n.count > 1 ? ` and ${n.count - 1} more` : ''}`;
}

/** masquerade_interface as fleetmasq uses it: one spec string (a list joined by commas). */
export function interfaceSpec(v: unknown): string {
  return Array.isArray(v) ? v.map(String).join(',') : String(v ?? 'auto');
}

/** Ansible's booleans (module_utils/parsing/convert_bool.py): y, yes, on, 1, true, t in any case, 1, True. */
export function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return ['y', 'yes', 'on', '1', 'true', 't'].includes(v.trim().toLowerCase());
  return v === 1;
}

/** Warnings for Ansible vars that would make Ansible behave differently from fleetmasq. */
export function varWarnings(vars: Record<string, unknown>): string[] {
  const w: string[] = [];
  const conn = vars.ansible_connection;
  if (conn !== undefined && !['ssh', 'smart', 'paramiko'].includes(String(conn)))
    w.push(`ansible_connection: ${String(conn)} is ignored: fleetmasq always connects over SSH`);
  if (vars.ansible_password !== undefined || vars.ansible_ssh_pass !== undefined || vars.ansible_ssh_password !== undefined)
    w.push('SSH password authentication is not supported: fleetmasq uses keys and ssh-agent');
  const m = vars.ansible_become_method;
  if (m !== undefined && m !== 'sudo') w.push(`ansible_become_method: ${String(m)} is not supported: fleetmasq becomes root with sudo`);
  return w;
}
