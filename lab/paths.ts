import { join } from 'node:path';

/** Where labs live on this machine. Overridable for tests of the lab itself. */
export const LAB_ROOT = process.env.FLEETMASQ_LAB_ROOT ?? '/var/lib/fleetmasq-lab';
export const BASE_CACHE = process.env.FLEETMASQ_LAB_CACHE ?? '/var/cache/fleetmasq-lab';
/** Bump when the debootstrap include list changes (forces a new base). */
export const BASE_VERSION = 2;
/** Bump when the base preparation changes (re-runs the cheap prep on the cached base). */
export const PREP_VERSION = 4;
export const CGROUP_PARENT = 'fleetmasq-lab';

export function labPaths(name: string) {
  const dir = join(LAB_ROOT, 'labs', name);
  return {
    dir,
    state: join(dir, 'lab.json'),
    key: join(dir, 'id_ed25519'),
    knownHosts: join(dir, 'known_hosts'),
    sshConfig: join(dir, 'ssh_config'),
    sshConfigDirect: join(dir, 'ssh_config-direct'),
    inventory: join(dir, 'inventory.yml'),
    /** The same fleet reached directly over TCP, for a control side run inside the lab's namespace. */
    inventoryDirect: join(dir, 'inventory-direct.yml'),
    sockDir: join(dir, 'sock'),
    ctlSocket: join(dir, 'relay.ctl'),
    relayConfig: join(dir, 'relay.json'),
    relayPid: join(dir, 'relay.pid'),
    relayLog: join(dir, 'relay.log'),
    supervisor: join(dir, 'supervise.sh'),
    robotDir: (robot: string) => join(dir, 'robots', robot),
    netns: `fmlab-${name}`,
    /** A light robot's own network namespace (machine names are unique across labs; lab names have no '-'). */
    robotNetns: (machine: string) => `fmlab-${machine}`,
    robotNetnsPrefix: `fmlab-${name}-`,
    bridge: 'fmbr0',
  };
}

export function basePaths() {
  const dir = join(BASE_CACHE, `bookworm-${BASE_VERSION}`);
  return { dir, rootfs: join(dir, 'rootfs'), lock: join(BASE_CACHE, 'base.lock') };
}
