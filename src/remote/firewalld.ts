/**
 * firewalld's permanent direct rules, through firewalld's own interface (see src/remote/files/hooks.ts):
 * the shell that adds and removes fleetmasq's, and the reading of direct.xml by content.
 */
import { ruleArgs } from '../modules/rule.js';
import { FIREWALLD_DIRECT } from './paths.js';
import { shQuote } from './quote.js';

/** A permanent direct rule of firewalld's (ipv4, nat, POSTROUTING), as direct.xml holds it. */
export interface DirectRule {
  priority: number;
  /** The rule's arguments, whitespace collapsed: `-o wlan0 -j MASQUERADE`. */
  args: string;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unXml = (t: string) => t.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => XML_ENTITIES[e]!);

/**
 * firewalld's permanent direct rules on nat POSTROUTING (ipv4) in a direct.xml, by content: whatever
 * wrote it (firewalld drops comments and reorders attributes; an admin may use CRLF), and never a rule
 * inside an XML comment.
 */
export function directRules(xml: string): DirectRule[] {
  const text = xml.replace(/<!--[\s\S]*?(-->|$)/g, ' ');
  const out: DirectRule[] = [];
  for (const m of text.matchAll(/<rule\b([^>]*)>([^<]*)<\/rule\s*>/g)) {
    const attrs = new Map([...m[1]!.matchAll(/([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)].map((a) => [a[1]!, unXml(a[2] ?? a[3] ?? '')]));
    const priority = Number(attrs.get('priority') ?? 'NaN');
    if (attrs.get('ipv') !== 'ipv4' || attrs.get('table') !== 'nat' || attrs.get('chain') !== 'POSTROUTING' || !Number.isInteger(priority)) continue;
    out.push({ priority, args: unXml(m[2]!).trim().split(/\s+/).join(' ') });
  }
  return out;
}

/** The arguments of fleetmasq's direct rule for one interface. */
export const directArgs = (iface: string) => ruleArgs(iface).replace(/^POSTROUTING /, '');

/**
 * Adds (priority 0) or removes fleetmasq's permanent direct rules through firewalld itself: firewall-cmd
 * --permanent while firewalld runs (a removal also from its runtime rules), firewall-offline-cmd when it
 * is stopped. Each add is queried first (a rerun adds nothing). A direct.xml left with no direct rule,
 * chain or passthrough at all is deleted (to firewalld the same as none; a file fleetmasq's apply made).
 */
export function firewalldDirectSh(add: string[], remove: { iface: string; priority: number }[]): string {
  // ruleArgs validates the name; it is quoted all the same.
  const rule = (prio: number, iface: string) => (ruleArgs(iface), `ipv4 nat POSTROUTING ${Math.trunc(prio)} -o ${shQuote(iface)} -j MASQUERADE`);
  return [
    `if firewall-cmd --state >/dev/null 2>&1; then fm_live=1; else fm_live=; fi`,
    `fm_fw() { if [ -n "$fm_live" ]; then firewall-cmd --permanent --direct "$@"; else firewall-offline-cmd --direct "$@"; fi; }`,
    ...add.map((i) => `fm_fw --query-rule ${rule(0, i)} >/dev/null 2>&1 || fm_fw --add-rule ${rule(0, i)} >/dev/null`),
    ...remove.map(
      (r) =>
        `if fm_fw --query-rule ${rule(r.priority, r.iface)} >/dev/null 2>&1; then fm_fw --remove-rule ${rule(r.priority, r.iface)} >/dev/null; fi\n` +
        `[ -z "$fm_live" ] || firewall-cmd --direct --remove-rule ${rule(r.priority, r.iface)} >/dev/null 2>&1 || :`,
    ),
    ...(remove.length
      ? [`if [ -f ${FIREWALLD_DIRECT} ] && ! grep -qE '<(rule|passthrough|chain)[[:space:]>/]' ${FIREWALLD_DIRECT}; then rm -f ${FIREWALLD_DIRECT}; fm_sync ${FIREWALLD_DIRECT.slice(0, FIREWALLD_DIRECT.lastIndexOf('/'))}; fi`]
      : []),
  ].join('\n');
}
