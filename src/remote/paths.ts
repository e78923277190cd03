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
/** A change's lock (persistent: a reboot holds it across the boot). "<run id> <expires, epoch s> <holder...>". */
export const LOCK_DIR = '/var/lib/fleetmasq';
export const LOCK = `${LOCK_DIR}/lock`;
