/**
 * The rule's commands on a robot (iptables and fleetmasq's own nftables table), as every boot hook, hook
 * file and change step runs them, and the reading back of the interfaces from what they wrote.
 */
import { IFACE_RE, ifaceList, NFT_TABLE, nftIface, ruleArgs } from '../modules/rule.js';

/**
 * The rule live exactly once after it runs: added only when `-C` does not find it. A list gets one rule
 * per interface, every one tried even when another fails, and fails if any did. `systemd`: for a unit's
 * command line, where `$` is written `$$`.
 */
export function ensureRuleSh(spec: string, opts: { systemd?: boolean } = {}): string {
  const parts = ifaceList(spec);
  if (parts.length === 1) {
    const rule = ruleArgs(parts[0]!);
    return `iptables -w -t nat -C ${rule} 2>/dev/null || iptables -w -t nat -A ${rule}`;
  }
  for (const p of parts) ruleArgs(p); // validated, each
  const loop = `fm_r=0; for fm_i in ${parts.join(' ')}; do iptables -w -t nat -C POSTROUTING -o "$fm_i" -j MASQUERADE 2>/dev/null || iptables -w -t nat -A POSTROUTING -o "$fm_i" -j MASQUERADE || fm_r=1; done; [ "$fm_r" = 0 ]`;
  return opts.systemd ? loop.replace(/\$/g, '$$$$') : loop;
}

/**
 * fleetmasq's nftables table with one masquerade rule per interface, as ONE nft command line (one
 * transaction): the table is created if missing, deleted, and made again whole, so after it runs the
 * rules are there exactly once, whatever was in the table before. No `'`, `$`, `%` or `\` in it: it
 * goes as it is into a single-quoted shell word and a systemd command line.
 */
export function nftBatch(spec: string): string {
  const rules = ifaceList(spec).map((p) => `add rule ${NFT_TABLE} postrouting oifname "${nftIface(p)}" masquerade`);
  return [`add table ${NFT_TABLE}`, `delete table ${NFT_TABLE}`, `add table ${NFT_TABLE}`, `add chain ${NFT_TABLE} postrouting { type nat hook postrouting priority 100 ; policy accept ; }`, ...rules].join(' ; ');
}

/** The shell that puts fleetmasq's nftables table live (idempotent). */
export function ensureNftSh(spec: string): string {
  return `nft '${nftBatch(spec)}'`;
}

/** Every interface fleetmasq's rules for a spec name, from unit text or a block (in order, once each). */
export function specIn(text: string): string | undefined {
  const found: string[] = [];
  // A list is one loop over its interfaces.
  const loop = /for fm_i in ([^;]+); do/.exec(text);
  // Names from a robot's files: only those fleetmasq accepts (see src/remote/values.ts).
  const add = (i: string) => IFACE_RE.test(i) && !found.includes(i) && found.push(i);
  if (loop) for (const i of loop[1]!.trim().split(/\s+/)) add(i);
  for (const m of text.matchAll(/-A POSTROUTING -o ([^\s"]+) -j MASQUERADE/g)) add(m[1]!);
  // fleetmasq's nftables table: `oifname "usb*" masquerade` is the spec's usb+.
  for (const m of text.matchAll(/oifname "([^"\s]+)" masquerade/g)) add(m[1]!.endsWith('*') ? `${m[1]!.slice(0, -1)}+` : m[1]!);
  return found.length ? found.join(',') : undefined;
}
