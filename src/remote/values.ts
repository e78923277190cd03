/**
 * Values that come FROM robots (route and interface names, addresses), checked where they enter: a value
 * that is not what fleetmasq itself would accept never reaches a plan, a message as-is, or a shell. Linux
 * takes `a;touch${IFS}pw` as an interface name, and the robot's own tools print it raw.
 */
import { IFACE_PATTERN } from '../inventory/vars.js';

const NAME = new RegExp(IFACE_PATTERN);

/** An interface name fleetmasq accepts anywhere (inventory, flags, robots' routes and links); no wildcard. */
export function isIfaceName(x: string): boolean {
  return NAME.test(x) && !x.endsWith('+');
}

/** An interface spec part (a name, or a name ending in the iptables wildcard `+`). */
export function isIfaceSpecPart(x: string): boolean {
  return NAME.test(x);
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;

export function isIPv4(x: string): boolean {
  return IPV4.test(x);
}

/** A robot's value for a message: quoted, control bytes escaped, bounded. */
export function shown(x: string): string {
  return JSON.stringify(x.length > 64 ? `${x.slice(0, 64)}…` : x);
}
