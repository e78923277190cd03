/**
 * Compliance (pure): the rule live exactly once on the expected interface AND persistence installed and
 * enabled. Reasons are typed codes with their data; their words come from reasonText, so nothing ever
 * matches on English text.
 */
import type { Facts } from '../facts/facts.js';
import type { PersistenceMode } from '../inventory/vars.js';
import { RC_LOCAL, UNIT_NAME } from '../remote/paths.js';
import { blockDamage, findBlock } from './rclocal.js';
import { chooseInterface, countRule, masqueradeInterfaces } from './rule.js';
import { renderUnit, unitInterface } from './unit.js';

export type Persistence = 'systemd' | 'rc.local';

export interface MasqSettings {
  /** A name or 'auto'. */
  interface: string;
  persistence: PersistenceMode;
  /** A named interface missing on the robot is no error (it will appear: a USB hotspot). */
  allowAbsentInterface?: boolean;
}

export type Reason =
  | { code: 'iptables-broken'; error: string }
  | { code: 'no-uplink'; message: string }
  | { code: 'rule-missing'; iface: string }
  | { code: 'rule-duplicated'; iface: string; count: number }
  | { code: 'iface-missing'; iface: string }
  | { code: 'iface-down'; iface: string }
  | { code: 'unit-missing' }
  | { code: 'unit-other-iface'; found?: string; expected: string }
  | { code: 'unit-modified' }
  | { code: 'unit-not-enabled'; state?: string }
  | { code: 'rclocal-missing' }
  | { code: 'rclocal-damaged'; detail: string }
  | { code: 'rclocal-no-block' }
  | { code: 'rclocal-other-iface'; found?: string; expected: string }
  | { code: 'rclocal-no-shebang' }
  | { code: 'rclocal-not-executable' }
  | { code: 'rclocal-masked' };

export function reasonText(r: Reason): string {
  switch (r.code) {
    case 'iptables-broken':
      return `iptables does not work: ${r.error}`;
    case 'no-uplink':
      return r.message;
    case 'rule-missing':
      return `the rule is not live on ${r.iface}`;
    case 'rule-duplicated':
      return `the rule is live ${r.count} times on ${r.iface} (duplicates)`;
    case 'iface-missing':
      return `interface ${r.iface} does not exist on the robot`;
    case 'iface-down':
      return `interface ${r.iface} is down`;
    case 'unit-missing':
      return `persistence missing: no ${UNIT_NAME}`;
    case 'unit-other-iface':
    case 'rclocal-other-iface':
      return `persistence is for ${r.found ?? 'another interface'}, expected ${r.expected}`;
    case 'unit-modified':
      return `${UNIT_NAME} was modified`;
    case 'unit-not-enabled':
      return `${UNIT_NAME} is not enabled (${r.state ?? 'unknown'})`;
    case 'rclocal-missing':
      return `persistence missing: no ${RC_LOCAL}`;
    case 'rclocal-damaged':
      return `${RC_LOCAL} ${r.detail}`;
    case 'rclocal-no-block':
      return `persistence missing: no fleetmasq block in ${RC_LOCAL}`;
    case 'rclocal-no-shebang':
      return `${RC_LOCAL} has no shebang`;
    case 'rclocal-not-executable':
      return `${RC_LOCAL} is not executable`;
    case 'rclocal-masked':
      return 'rc-local.service is masked: rc.local never runs at boot';
  }
}

export interface Compliance {
  compliant: boolean;
  reasons: Reason[];
  notes: string[];
  iface?: string;
  method?: Persistence;
  ruleCount: number;
  persistenceInstalled: boolean;
  firedThisBoot: boolean;
}

export function otherBackendWarning(facts: Facts, iface: string): string | undefined {
  if (facts.other && countRule(facts.other.rules, iface) > 0)
    return `a copy of the rule sits in the iptables-${facts.other.backend} tables, invisible to the active iptables (${facts.backend})`;
  return undefined;
}

/** Why the live rule is not right on the interface (empty: it is). */
function ruleReasons(facts: Facts, iface: string, ruleCount: number): Reason[] {
  const out: Reason[] = [];
  if (ruleCount === 0) out.push({ code: 'rule-missing', iface });
  if (ruleCount > 1) out.push({ code: 'rule-duplicated', iface, count: ruleCount });
  const link = facts.links.find((l) => l.name === iface);
  if (!iface.endsWith('+')) {
    if (!link) out.push({ code: 'iface-missing', iface });
    else if (!link.up) out.push({ code: 'iface-down', iface });
  }
  return out;
}

function unitReasons(facts: Facts, iface: string): Reason[] {
  const out: Reason[] = [];
  if (facts.unit === undefined) out.push({ code: 'unit-missing' });
  else if (unitInterface(facts.unit) !== iface) out.push({ code: 'unit-other-iface', found: unitInterface(facts.unit), expected: iface });
  else if (facts.unit !== renderUnit(iface)) out.push({ code: 'unit-modified' });
  if (facts.unit !== undefined && facts.unitEnabled !== 'enabled') out.push({ code: 'unit-not-enabled', state: facts.unitEnabled });
  return out;
}

function rcLocalReason(facts: Facts, iface: string): Reason | undefined {
  const rc = facts.rcLocal;
  if (!rc) return { code: 'rclocal-missing' };
  const damage = blockDamage(rc.content);
  if (damage) return { code: 'rclocal-damaged', detail: damage };
  const block = findBlock(rc.content);
  if (!block) return { code: 'rclocal-no-block' };
  if (block.iface !== iface) return { code: 'rclocal-other-iface', found: block.iface, expected: iface };
  if (!rc.content.startsWith('#!')) return { code: 'rclocal-no-shebang' };
  if ((rc.mode & 0o100) === 0) return { code: 'rclocal-not-executable' };
  if (facts.systemd && facts.rcLocalService === 'masked') return { code: 'rclocal-masked' };
  return undefined;
}

export function checkCompliance(facts: Facts, settings: MasqSettings): Compliance {
  const reasons: Reason[] = [];
  const notes: string[] = [];
  const c: Compliance = { compliant: false, reasons, notes, ruleCount: 0, persistenceInstalled: false, firedThisBoot: false };
  if (facts.rulesError) reasons.push({ code: 'iptables-broken', error: facts.rulesError });
  const choice = chooseInterface(facts, settings.interface);
  if ('error' in choice) {
    reasons.push({ code: 'no-uplink', message: choice.error });
    return c;
  }
  const iface = (c.iface = choice.iface);
  c.ruleCount = countRule(facts.rules, iface);
  reasons.push(...ruleReasons(facts, iface, c.ruleCount));
  const others = masqueradeInterfaces(facts.rules).filter((i) => i !== iface);
  if (others.length) notes.push(`also masquerading on ${others.join(', ')}`);
  const w = otherBackendWarning(facts, iface);
  if (w) notes.push(w);

  const unit = unitReasons(facts, iface);
  const rc = rcLocalReason(facts, iface);
  const unitOk = unit.length === 0;
  const wanted = settings.persistence === 'auto' ? undefined : settings.persistence;
  c.method = wanted ?? (unitOk ? 'systemd' : !rc ? 'rc.local' : facts.systemd ? 'systemd' : 'rc.local');
  c.persistenceInstalled = c.method === 'systemd' ? unitOk : !rc;
  if (!c.persistenceInstalled) reasons.push(...(c.method === 'systemd' ? unit : [rc!]));
  c.firedThisBoot = facts.marker?.bootId === facts.bootId;
  c.compliant = reasons.length === 0;
  return c;
}
