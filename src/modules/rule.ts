/**
 * The masquerade rule itself (pure): its spec, how to find copies, and the interface to put it on. The
 * commands that put it live on a robot are src/remote/rule.ts's.
 */
import type { Facts } from '../facts/facts.js';
import { IFACE_PATTERN } from '../inventory/vars.js';
import { shown } from '../remote/values.js';

/** Interface names fleetmasq accepts anywhere (inventory, flags, playbooks, robots' routes). */
export const IFACE_RE = new RegExp(IFACE_PATTERN);

export function ruleArgs(iface: string): string {
  if (!IFACE_RE.test(iface)) throw new Error(`invalid interface name '${iface}'`);
  return `POSTROUTING -o ${iface} -j MASQUERADE`;
}

/**
 * An interface spec: one name, an iptables wildcard (`usb+`: every interface starting with usb), or a
 * list of them joined by commas (`wlan0,usb+`: uplinks that come and go), one rule each.
 */
export function ifaceList(spec: string): string[] {
  return spec.split(',');
}

/** Why a spec is not usable (undefined: it is). */
export function specError(spec: string): string | undefined {
  const parts = ifaceList(spec);
  const bad = parts.find((p) => !IFACE_RE.test(p));
  if (bad !== undefined) return `'${bad}' is not a valid interface name${bad.includes('*') ? " (iptables' wildcard is '+', as in usb+)" : ''}`;
  if (new Set(parts).size !== parts.length) return `'${spec}' names an interface twice`;
  return undefined;
}

/** Whether an interface name matches a spec's part (a `+` at its end matches any rest). */
export function partMatches(part: string, name: string): boolean {
  return part.endsWith('+') ? name.startsWith(part.slice(0, -1)) : name === part;
}

/** Where the live rule lives: iptables' nat table, or fleetmasq's own nftables table. */
export type RuleBackend = 'iptables' | 'nft';
export const NFT_TABLE = 'ip fleetmasq';

/** An interface spec's part as nftables matches it (iptables' `usb+` is nftables' `usb*`). */
export function nftIface(part: string): string {
  ruleArgs(part); // validated
  return part.endsWith('+') ? `${part.slice(0, -1)}*` : part;
}

/** nftables rules of fleetmasq's table (`oifname "X" masquerade` lines), as the iptables `-S` lines they match. */
export function nftRulesAsIptables(lines: string[]): string[] {
  return lines.flatMap((l) => {
    const m = /^\s*oifname "([^"]+)" masquerade\s*$/.exec(l);
    if (!m) return [];
    const part = m[1]!.endsWith('*') ? `${m[1]!.slice(0, -1)}+` : m[1]!;
    return IFACE_RE.test(part) ? [`-A POSTROUTING -o ${part} -j MASQUERADE`] : [];
  });
}

/** `-S` lines of our exact rule for an interface. */
export function countRule(rules: string[], iface: string): number {
  const want = `-A ${ruleArgs(iface)}`;
  return rules.filter((r) => r.trim() === want).length;
}

/** Interfaces that have a plain `-o X -j MASQUERADE` rule. */
export function masqueradeInterfaces(rules: string[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    const m = /^-A POSTROUTING -o (\S+) -j MASQUERADE$/.exec(r.trim());
    if (m && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

export type IfaceChoice = { iface: string; how: 'named' | 'default-route' } | { error: string };

/** A name, or `auto`: the interface of the default route with the lowest metric. */
export function chooseInterface(facts: Facts, wanted: string): IfaceChoice {
  if (wanted !== 'auto') return { iface: wanted, how: 'named' };
  // (a list never holds auto: the inventory's schema and --interface refuse it)
  const routes = [...facts.routes, ...(facts.refusedRoutes ?? [])].sort((a, b) => a.metric - b.metric);
  if (!routes.length) return { error: 'no default route on the robot, so the uplink cannot be found: set masquerade_interface (or --interface)' };
  const dev = routes[0]!.dev;
  // The robot's own answer is checked as the inventory's would be: a name fleetmasq refuses runs nothing.
  if (!IFACE_RE.test(dev) || dev.endsWith('+'))
    return {
      error: `the robot's default route uses interface ${shown(dev)}, a name fleetmasq refuses (letters, digits, '_', '.', '-', at most 15): nothing was run; set masquerade_interface (or --interface) to the uplink`,
    };
  return { iface: dev, how: 'default-route' };
}
