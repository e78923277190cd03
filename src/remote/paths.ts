/** Every path fleetmasq reads or writes on a robot, and the shapes of what it reads there. */

export const UNIT_NAME = 'fleetmasq-masquerade.service';
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
/** The symlink `systemctl enable` makes for the unit's WantedBy=multi-user.target. */
export const WANTS_LINK = `/etc/systemd/system/multi-user.target.wants/${UNIT_NAME}`;
export const RC_LOCAL = '/etc/rc.local';
/** Written by the boot hook at every boot: "<boot id> <method> <interface>". Gone at reboot (/run). */
export const MARKER_DIR = '/run/fleetmasq';
export const MARKER = `${MARKER_DIR}/boot-marker`;
export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
/** A well-formed boot id (a random UUID). */
export const BOOT_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/**
 * A change's lock (see lockSh in src/remote/script.ts): "<run id> <expires, epoch s> <holder...>", then
 * "fm2 <boot id> <expires, uptime s> <since, epoch s> <pid> <pid's start time> <exit|keep>". In /run, so a reboot clears it: a reboot
 * holds it from before it starts until the robot goes down, and a run that gave up on a robot (a reboot
 * that timed out) leaves no lock behind once the robot boots.
 */
export const LOCK_DIR = '/run';
export const LOCK = '/run/fleetmasq.lock';
/**
 * The audit log: one line per change ("<UTC time> <command> by <who>: <changes>"), appended by root
 * only (folder 0700, file 0600, both root's): no robot user can write a line in it (see docs/security.md).
 */
export const AUDIT_DIR = '/var/log/fleetmasq';
export const AUDIT_LOG = `${AUDIT_DIR}/audit.log`;
/** Seconds since boot (a monotonic clock: wall-clock steps do not move it); a lock's expiry is read on it. */
export const UPTIME_PATH = '/proc/uptime';

/**
 * Where fleetmasq hooks into the firewall managers that flush the nat table (see src/remote/files/hooks.ts):
 * a netfilter-persistent plugin (its own file), a drop-in for nftables.service (its own file), a managed
 * block in ufw's after.init and in firewalld's permanent direct rules.
 */
export const NFP_HOOK = '/usr/share/netfilter-persistent/plugins.d/90-fleetmasq';
export const NFP_RULES_V4 = '/etc/iptables/rules.v4';
export const NFT_DROPIN_DIR = '/etc/systemd/system/nftables.service.d';
export const NFT_DROPIN = `${NFT_DROPIN_DIR}/fleetmasq.conf`;
export const NFT_CONF = '/etc/nftables.conf';
export const UFW_AFTER_INIT = '/etc/ufw/after.init';
export const FIREWALLD_DIRECT = '/etc/firewalld/direct.xml';
