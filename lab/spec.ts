/**
 * Lab fleet spec (pure): which robots to boot and how each one differs, like a real fleet does.
 *
 * YAML form:
 *   name: demo                # lab name (a-z0-9, up to 6 chars); --name overrides
 *   defaults: { interface: wlan0 }
 *   robots:
 *     - { name: cam, count: 3 }          # cam-01 .. cam-03
 *     - { name: legacy, iptables: legacy, interface: eth0 }
 *     - { name: sudo, login: sudo-password }
 *     - { name: fw, manager: ufw }         # also iptables-persistent, nftables, firewalld
 *     - { name: many, count: 1000, form: light }   # light robots (see RobotForm)
 *     - { name: ro, volatile: true }       # a volatile root: every change lost at boot
 *     - { name: bb, userland: busybox }    # busybox's applets ahead on PATH
 *     - { name: d13, os: trixie }          # Debian 13 instead of 12
 *     - { name: nfto, iptables: none }     # nftables only: no iptables binaries at all
 */
import { parseDocument } from 'yaml';
import { ConfigError } from '../src/errors.js';

/** Firewall managers a lab robot can run (each one a cached package layer: see host.ts). */
export const LAB_MANAGERS = ['iptables-persistent', 'nftables', 'ufw', 'firewalld'] as const;
export type LabManager = (typeof LAB_MANAGERS)[number];

export type Login = 'root' | 'sudo' | 'sudo-password';
/**
 * full: a systemd-nspawn container booting real systemd, its sshd listening on its own veth (reboots,
 * persistence, firewall managers, hotspots: everything).
 * light: light enough for a thousand on this machine: its own network namespace (real iptables; its
 * uplink a veth routed to the lab's namespace, so what it sends arrives there as on a full robot) and
 * its own overlay of the same Debian root, with one process: its real sshd, run chrooted there (sshd
 * forks and re-executes itself per connection as on any robot). It does not model boots (no systemd, no
 * reboot; boot_id is the machine's), persistence (its inventory says \`masquerade_persistence:
 * external\`), firewall managers, or PAM (its sshd runs with UsePAM no: a login costs the shared cores
 * less).
 */
export type RobotForm = 'full' | 'light';
/** The Debian release a robot runs (each a cached debootstrap root). */
export const LAB_OSES = ['bookworm', 'trixie', 'bullseye'] as const;
export type LabOs = (typeof LAB_OSES)[number];
export type OnReboot = 'reboot' | 'poweroff';

export interface RobotSpec {
  name: string;
  interface: string;
  login: Login;
  /** none: an nftables-only robot (Debian's nftables installed, every iptables, ip6tables and xtables binary deleted). */
  iptables: 'nft' | 'legacy' | 'none';
  /** Pre-existing /etc/rc.local: 'none', 'exit0' (classic Debian/Ubuntu file ending in exit 0). */
  rcLocal: 'none' | 'exit0';
  /** Round-trip time added by the lab's relay on this robot's link, in ms. */
  rttMs: number;
  onReboot: OnReboot;
  /** Extra interfaces with a default route of higher metric (to exercise `auto`). */
  extraInterfaces: { name: string; metric: number }[];
  /** sshd accepts connections only from the named bastion robot. */
  onlyVia?: string;
  /** A firewall manager installed from Debian's packages and configured as its users do. */
  manager?: LabManager;
  /** Behind its own model hotspot (lab/hotspot.ts): defective (p = 0.8) or healthy (p = 0). */
  hotspot?: 'defective' | 'healthy';
  /** A docker0-like bridge with 172.17.0.1/16: a second local address, as robots running Docker have. */
  secondAddress?: boolean;
  /** full (default) or light: see RobotForm. */
  form: RobotForm;
  /**
   * A volatile root, as Raspberry Pi OS's overlay file system: booted with systemd-nspawn's
   * --volatile=overlay (the root an overlay with a tmpfs upper layer), so every change is lost at boot.
   */
  volatile?: boolean;
  /** busybox: Debian's busybox installed and its applets linked ahead on PATH (/usr/local/bin), as on Yocto or Buildroot images. */
  userland?: 'busybox';
  /** Debian 12 (bookworm, default), 13 (trixie) or 11 (bullseye). */
  os?: LabOs;
}

export interface RobotPlan extends RobotSpec {
  index: number;
  address: string;
  /** Unique across labs on this machine: used as machine name. */
  machine: string;
}

export interface LabSpec {
  name: string;
  robots: RobotSpec[];
}

const NAME_RE = /^[a-z][a-z0-9]{0,5}$/;

/** A lab name (it becomes part of machine and interface names): a-z0-9, up to 6 characters. */
export function checkLabName(name: unknown, file?: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) throw new ConfigError(`lab name must match ${NAME_RE} (got ${JSON.stringify(name)})`, file);
  return name;
}
const ROBOT_RE = /^[a-z][a-z0-9-]{0,19}$/;
export const IFACE_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;

const ROBOT_KEYS = new Set([
  'name', 'count', 'interface', 'login', 'iptables', 'rc_local', 'rtt_ms', 'on_reboot', 'extra_interfaces', 'only_via', 'manager', 'hotspot', 'second_address', 'form',
  'volatile', 'userland', 'os',
]);

const DEFAULTS: Omit<RobotSpec, 'name'> = {
  interface: 'wlan0',
  login: 'root',
  iptables: 'nft',
  rcLocal: 'none',
  rttMs: 0,
  onReboot: 'reboot',
  extraInterfaces: [],
  form: 'full',
};

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string, file: string): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw new ConfigError(`${what} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`, file);
}

function robotFrom(raw: Record<string, unknown>, base: Omit<RobotSpec, 'name'>, file: string): Omit<RobotSpec, 'name'> {
  for (const k of Object.keys(raw)) {
    if (!ROBOT_KEYS.has(k)) throw new ConfigError(`unknown robot key '${k}'`, file);
  }
  const r = { ...base, extraInterfaces: [...base.extraInterfaces] };
  if (raw.interface !== undefined) {
    if (typeof raw.interface !== 'string' || !IFACE_RE.test(raw.interface) || raw.interface === 'host0')
      throw new ConfigError(`interface ${JSON.stringify(raw.interface)} is not a valid interface name`, file);
    r.interface = raw.interface;
  }
  if (raw.login !== undefined) r.login = oneOf(raw.login, ['root', 'sudo', 'sudo-password'] as const, 'login', file);
  if (raw.iptables !== undefined) r.iptables = oneOf(raw.iptables, ['nft', 'legacy', 'none'] as const, 'iptables', file);
  if (raw.rc_local !== undefined) r.rcLocal = oneOf(raw.rc_local, ['none', 'exit0'] as const, 'rc_local', file);
  if (raw.manager !== undefined) r.manager = oneOf(raw.manager, LAB_MANAGERS, 'manager', file);
  if (raw.hotspot !== undefined) r.hotspot = oneOf(raw.hotspot, ['defective', 'healthy'] as const, 'hotspot', file);
  if (raw.second_address !== undefined) {
    if (typeof raw.second_address !== 'boolean') throw new ConfigError('second_address must be true or false', file);
    r.secondAddress = raw.second_address;
  }
  if (raw.form !== undefined) r.form = oneOf(raw.form, ['full', 'light'] as const, 'form', file);
  if (raw.volatile !== undefined) {
    if (typeof raw.volatile !== 'boolean') throw new ConfigError('volatile must be true or false', file);
    if (raw.volatile) r.volatile = true;
    else delete r.volatile;
  }
  if (raw.userland !== undefined) {
    if (oneOf(raw.userland, ['gnu', 'busybox'] as const, 'userland', file) === 'busybox') r.userland = 'busybox';
    else delete r.userland;
  }
  if (raw.os !== undefined) r.os = oneOf(raw.os, LAB_OSES, 'os', file);
  if (raw.on_reboot !== undefined) r.onReboot = oneOf(raw.on_reboot, ['reboot', 'poweroff'] as const, 'on_reboot', file);
  if (raw.rtt_ms !== undefined) {
    if (typeof raw.rtt_ms !== 'number' || !(raw.rtt_ms >= 0) || raw.rtt_ms > 10000)
      throw new ConfigError(`rtt_ms must be a number from 0 to 10000`, file);
    r.rttMs = raw.rtt_ms;
  }
  if (raw.only_via !== undefined) {
    if (typeof raw.only_via !== 'string' || !ROBOT_RE.test(raw.only_via))
      throw new ConfigError(`only_via must name a robot`, file);
    r.onlyVia = raw.only_via;
  }
  if (raw.extra_interfaces !== undefined) {
    if (!Array.isArray(raw.extra_interfaces)) throw new ConfigError('extra_interfaces must be a list', file);
    r.extraInterfaces = raw.extra_interfaces.map((e: unknown) => {
      const o = e as Record<string, unknown>;
      if (!o || typeof o.name !== 'string' || !IFACE_RE.test(o.name) || typeof o.metric !== 'number')
        throw new ConfigError('extra_interfaces entries need a valid name and a numeric metric', file);
      return { name: o.name, metric: o.metric };
    });
  }
  return r;
}

/** What a light robot cannot be (it has no systemd, no boots and no link beyond itself): the keys that would need it. */
function lightConflicts(r: Omit<RobotSpec, 'name'>): string[] {
  const bad: string[] = [];
  if (r.manager) bad.push('manager');
  if (r.hotspot) bad.push('hotspot');
  if (r.secondAddress) bad.push('second_address');
  if (r.rcLocal !== 'none') bad.push('rc_local');
  if (r.onReboot !== 'reboot') bad.push('on_reboot');
  if (r.extraInterfaces.length) bad.push('extra_interfaces');
  if (r.onlyVia) bad.push('only_via');
  if (r.volatile) bad.push('volatile');
  if (r.iptables === 'none') bad.push('iptables: none');
  return bad;
}

/** Parses a lab spec from YAML text. */
export function parseLabSpec(text: string, file = '<spec>'): LabSpec {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new ConfigError(e.message.split('\n')[0]!, file, e.linePos?.[0]?.line, e.linePos?.[0]?.col);
  }
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(raw)) {
    if (!['name', 'defaults', 'robots'].includes(k)) throw new ConfigError(`unknown key '${k}'`, file);
  }
  const name = checkLabName(raw.name === undefined ? 'lab' : raw.name, file);
  const base = robotFrom((raw.defaults ?? {}) as Record<string, unknown>, DEFAULTS, file);
  if (!Array.isArray(raw.robots) || raw.robots.length === 0) throw new ConfigError('robots must be a non-empty list', file);
  const robots: RobotSpec[] = [];
  for (const item of raw.robots as Record<string, unknown>[]) {
    if (!item || typeof item.name !== 'string' || !ROBOT_RE.test(item.name))
      throw new ConfigError(`every robot needs a name matching ${ROBOT_RE}`, file);
    const count = item.count === undefined ? undefined : item.count;
    if (count !== undefined && (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 5000))
      throw new ConfigError(`count must be an integer from 1 to 5000`, file);
    const r = robotFrom(item, base, file);
    // Package layers (managers, busybox) are built over the bookworm root.
    if (r.os && r.os !== 'bookworm' && (r.manager || r.userland || r.iptables === 'none')) throw new ConfigError(`robot '${item.name}': manager, userland and iptables: none layers exist for bookworm only, not os: ${r.os}`, file);
    if (r.form === 'light') {
      const bad = lightConflicts(r);
      if (bad.length) throw new ConfigError(`robot '${item.name}': a light robot has no systemd, boots or link beyond itself, so it cannot have ${bad.join(', ')}`, file);
    }
    if (count === undefined) robots.push({ name: item.name, ...r });
    else {
      const width = Math.max(2, String(count).length);
      for (let i = 1; i <= count; i++) robots.push({ name: `${item.name}-${String(i).padStart(width, '0')}`, ...r });
    }
  }
  const seen = new Set<string>();
  for (const r of robots) {
    if (seen.has(r.name)) throw new ConfigError(`robot name '${r.name}' appears twice`, file);
    seen.add(r.name);
  }
  for (const r of robots) {
    if (r.onlyVia && !seen.has(r.onlyVia)) throw new ConfigError(`only_via: no robot named '${r.onlyVia}'`, file);
    if (r.onlyVia && robots.find((b) => b.name === r.onlyVia)!.form === 'light')
      throw new ConfigError(`only_via: '${r.onlyVia}' is a light robot, whose uplink leads nowhere: a bastion must be a full robot`, file);
  }
  return { name, robots };
}

/** A uniform fleet of N robots (what `lab up --robots N` boots). */
export function uniformSpec(name: string, count: number, rttMs = 0, form: RobotForm = 'full'): LabSpec {
  return { name, robots: Array.from({ length: count }, (_, i) => ({ name: robotName(i, count), ...DEFAULTS, rttMs, form })) };
}

/** robot-01, robot-02, … (zero-padded to the fleet's size). */
function robotName(index: number, count: number): string {
  return `robot-${String(index + 1).padStart(Math.max(2, String(count).length), '0')}`;
}

/** The address of robot i's model hotspot on the lab bridge (clear of every robot address). */
export function hotspotAddress(index: number): string {
  return `10.77.${250 + Math.floor(index / 250)}.${1 + (index % 250)}`;
}

/** Robot i's address on the lab bridge (10.77.0.0/16, gateway 10.77.0.1). */
export function robotAddress(index: number): string {
  if (index < 0 || index >= 250 * 200) throw new RangeError('lab robot index out of range');
  return `10.77.${Math.floor(index / 200)}.${10 + (index % 200)}`;
}

export function planLab(spec: LabSpec): RobotPlan[] {
  return spec.robots.map((r, index) => ({
    ...r,
    index,
    address: robotAddress(index),
    // <= 11 chars, so nspawn's host-side veth 'vb-<machine>' fits IFNAMSIZ unshortened.
    machine: `${spec.name}-${index.toString(36)}`,
  }));
}

/** A mixed fleet of N robots cycling through the variations real fleets have (the demo's fleet). */
export function mixedSpec(name: string, count: number): LabSpec {
  const kinds: Omit<RobotSpec, 'name'>[] = [
    { ...DEFAULTS },
    { ...DEFAULTS, interface: 'eth0', iptables: 'legacy' },
    { ...DEFAULTS, interface: 'wwan0', login: 'sudo', extraInterfaces: [{ name: 'eth1', metric: 600 }] },
    { ...DEFAULTS, rcLocal: 'exit0' },
    { ...DEFAULTS, login: 'sudo' },
  ];
  return { name, robots: Array.from({ length: count }, (_, i) => ({ name: robotName(i, count), ...kinds[i % kinds.length]! })) };
}
