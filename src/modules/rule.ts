/** The masquerade rule itself (pure): its spec, how to find copies, and the interface to put it on. */
import type { Facts } from '../facts/facts.js';
import { IFACE_PATTERN } from '../inventory/vars.js';

/** Interface names fleetmasq accepts anywhere (inventory, flags, playbooks, robots' routes). */
export const IFACE_RE = new RegExp(IFACE_PATTERN);

export function ruleArgs(iface: string): string {
  if (!IFACE_RE.test(iface)) throw new Error(`invalid interface name '${iface}'`);
  return `POSTROUTING -o ${iface} -j MASQUERADE`;
}

/** The rule live exactly once after it runs: added only when `-C` does not find it. */
export function ensureRuleSh(iface: string): string {
  const rule = ruleArgs(iface);
  return `iptables -w -t nat -C ${rule} 2>/dev/null || iptables -w -t nat -A ${rule}`;
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
  const routes = [...facts.routes].sort((a, b) => a.metric - b.metric);
  if (!routes.length) return { error: 'no default route on the robot, so the uplink cannot be found: set masquerade_interface (or --interface)' };
  return { iface: routes[0]!.dev, how: 'default-route' };
}
