/**
 * Compliance (pure): the rule live exactly once on the expected interface AND persistence installed and
 * enabled. Reasons are typed codes with their data; their words come from reasonText, so nothing ever
 * matches on English text.
 */
import type { Facts } from '../facts/facts.js';
import type { PersistenceMode } from '../inventory/vars.js';
import { RC_LOCAL, UNIT_NAME, UNIT_PATH } from '../remote/paths.js';
import { rootState, rootStateText, WAYS_OUT, type RootState } from '../facts/storage.js';
import { blockDamage, findBlock } from '../remote/files/rclocal.js';
import { chooseInterface, countRule, ifaceList, masqueradeInterfaces, partMatches, type RuleBackend } from './rule.js';
import { renderUnit, unitInterface } from '../remote/files/unit.js';
import { HOOK_PATH } from '../remote/files/hooks.js';
import { hookState, presentManagers } from './hooks.js';
import { nftHookState, presentNftFlushers } from './nfthooks.js';
import { MANAGER_UNIT, type HookManager, type ManagerFacts } from '../facts/managers.js';

/** How the rule comes back at boot: fleetmasq's unit or rc.local block, or the robot's own stack (external). */
export type Persistence = 'systemd' | 'rc.local' | 'external';

export interface MasqSettings {
  /** A name or 'auto'. */
  interface: string;
  persistence: PersistenceMode;
  /** A named interface missing on the robot is no error (it will appear: a USB hotspot). */
  allowAbsentInterface?: boolean;
  /** masquerade_backend: iptables, nft (fleetmasq's own nftables table), auto (default: nft when iptables is absent). */
  backend?: 'auto' | RuleBackend;
}

/** The backend the rule lives in on this robot, or why the wanted one cannot be used. */
export function chooseBackend(facts: Facts, wanted: MasqSettings['backend'] = 'auto'): RuleBackend | { error: string } {
  if (wanted === 'nft' && !facts.nft?.present) return { error: 'masquerade_backend is nft, but nft (nftables) is not installed on this robot' };
  if (wanted === 'auto') return facts.iptablesMissing && facts.nft?.present ? 'nft' : 'iptables';
  return wanted;
}

export type Reason =
  | { code: 'iptables-broken'; error: string }
  | { code: 'backend-unusable'; error: string }
  | { code: 'no-uplink'; message: string }
  | { code: 'rule-missing'; iface: string; cause?: Cause }
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
  | { code: 'rclocal-masked' }
  | { code: 'hook-missing'; manager: HookManager; why: 'missing' | 'stale' | 'damaged'; detail?: string; flush?: string }
  /** Where the boot persistence lives is lost at boot (a volatile root) or cannot be written (read-only). */
  | { code: 'root-volatile' | 'root-read-only'; state: RootState };

/**
 * Why the rule is gone, as far as the robot's facts tell: when the boot hook put it in place, and the
 * manager that most likely took it (one that (re)started after that, else one that flushes the nat
 * table and can do it without a restart systemd would record).
 */
export interface Cause {
  /** When the boot hook fired at this boot (epoch s, the robot's clock). */
  firedAt?: number;
  manager?: HookManager;
  /** The manager's last (re)start, when it came after firedAt. */
  restartedAt?: number;
  /** What the manager does to the nat table. */
  flush?: string;
  /** Its hook is in place: only a reload run by hand (`nft -f`, `iptables-restore`) could have done it. */
  byHand?: boolean;
}

export function reasonText(r: Reason): string {
  switch (r.code) {
    case 'iptables-broken':
      return `iptables does not work: ${r.error}`;
    case 'backend-unusable':
      return r.error;
    case 'no-uplink':
      return r.message;
    case 'rule-missing':
      return `the rule is not live on ${r.iface}${r.cause ? `: ${causeText(r.cause)}` : ''}`;
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
    case 'root-volatile':
    case 'root-read-only':
      return `${rootStateText(r.state)}: ${r.code === 'root-volatile' ? "fleetmasq's boot persistence would not survive a reboot" : "fleetmasq's boot persistence cannot be installed"}; ways out: ${WAYS_OUT}`;
    case 'hook-missing':
      return r.why === 'damaged'
        ? `fleetmasq's hook beside ${r.manager}: ${r.detail}`
        : `${r.manager} is here${r.flush ? ` and ${r.flush}` : ''}, and fleetmasq's hook beside it (${HOOK_PATH[r.manager]}) is ${r.why === 'missing' ? 'missing' : 'not current'}: the rule does not survive its next ${RESETS[r.manager]}`;
  }
}

/** When each manager can take the nat table with it. */
const RESETS: Record<HookManager, string> = {
  'netfilter-persistent': 'start or reload (rules.v4 restored)',
  nftables: 'start, restart or reload',
  ufw: 'start, reload or disable',
  firewalld: 'start or reload',
};

const clock = (t: number) => new Date(t * 1000).toISOString().slice(11, 19) + ' UTC';

function causeText(c: Cause): string {
  const fired = c.firedAt !== undefined ? `fired at this boot (${clock(c.firedAt)}), gone since` : 'gone';
  if (!c.manager) return `${fired}: removed by hand or by a tool fleetmasq does not know`;
  const unit = MANAGER_UNIT[c.manager];
  if (c.restartedAt !== undefined) return `${fired}: ${unit} (re)started at ${clock(c.restartedAt)} and ${c.flush}`;
  if (c.byHand) return `${fired}: likely ${c.manager} reloaded by hand, past fleetmasq's hook (${c.flush})`;
  return `${fired}: likely ${c.manager} (${c.flush}; a reload leaves no time in systemd)`;
}

/** What a manager that takes the nat table does, as a clause ("... restarted at T and <clause>") and in short. */
const CLAUSE: Record<HookManager, string> = {
  'netfilter-persistent': 'its rules.v4 restores a nat table of its own',
  nftables: 'its conf flushes the ruleset',
  ufw: 'it flushes the built-in chains (MANAGE_BUILTINS=yes)',
  firewalld: 'it flushes every iptables table',
};
const SHORT: Record<HookManager, string> = {
  'netfilter-persistent': 'rules.v4 restores a nat table',
  nftables: 'conf flushes the ruleset',
  ufw: 'flushes the built-in chains (MANAGE_BUILTINS=yes)',
  firewalld: 'flushes every iptables table',
};

/** Whether a present manager takes the nat table with it (by its configuration as it is now). */
function flushesNat(m: ManagerFacts, k: HookManager): boolean {
  switch (k) {
    case 'netfilter-persistent':
      return !!m[k]?.savesNat;
    case 'nftables':
      return !!m[k]?.flushes;
    case 'ufw':
      return !!(m[k]?.enabled && m[k]?.manageBuiltins);
    case 'firewalld':
      return !!(m[k]?.unit?.enabled || m[k]?.unit?.active);
  }
}

/**
 * The likely culprit of a missing rule (see Cause): only managers that run (enabled or active) and take
 * the nat table count; one without fleetmasq's hook before one with it (a hooked one can only have done
 * it by a reload run by hand); a (re)start after the boot hook fired, before a guess.
 */
export function culprit(facts: Facts, iface?: string): Cause | undefined {
  const fired = facts.marker && facts.marker.bootId === facts.bootId ? facts.marker.at : undefined;
  // fleetmasq never put it in place here: "not live" is the whole story.
  if (fired === undefined && facts.unit === undefined && !(facts.rcLocal && findBlock(facts.rcLocal.content))) return undefined;
  const flushers = presentManagers(facts.managers)
    .filter(({ manager }) => flushesNat(facts.managers, manager))
    .filter(({ manager }) => facts.managers[manager]?.unit === undefined || facts.managers[manager]!.unit!.enabled || facts.managers[manager]!.unit!.active)
    .map(({ manager, hook }) => ({
      manager,
      flush: CLAUSE[manager],
      since: facts.managers[manager]?.unit?.since,
      hooked: iface !== undefined && hookState(manager, iface, hook).ok,
    }));
  const restarted = flushers.filter((x) => !x.hooked && x.since !== undefined && fired !== undefined && x.since > fired).sort((a, b) => b.since! - a.since!)[0];
  if (restarted) return { firedAt: fired, manager: restarted.manager, restartedAt: restarted.since, flush: restarted.flush };
  const any = flushers.find((x) => !x.hooked) ?? flushers[0];
  // Never put in place at this boot and nothing that flushes: nothing to tell beyond "not live".
  if (fired === undefined && !any) return undefined;
  return { firedAt: fired, ...(any ? { manager: any.manager, flush: any.flush, ...(any.hooked ? { byHand: true } : {}) } : {}) };
}

/** A manager as check reports it. */
export interface ManagerReport {
  name: string;
  /** Enabled at boot / running now (absent: no systemd unit known). */
  enabled?: boolean;
  running?: boolean;
  /** What it does to the nat table (absent: nothing known). */
  flushes?: string;
  /** fleetmasq's hook beside it. */
  hook?: 'ok' | 'missing' | 'stale' | 'damaged';
  hookPath?: string;
  notes: string[];
}

/** Every manager found on the robot, for the reports. */
export function managerReports(facts: Facts, iface?: string, hooked = true): ManagerReport[] {
  const m = facts.managers;
  const out: ManagerReport[] = presentManagers(m).map(({ manager, hook }) => {
    const u = m[manager]?.unit;
    const st = iface && hooked ? hookState(manager, iface, hook) : undefined;
    const notes: string[] = [];
    if (manager === 'ufw' && m.ufw?.beforeNat) notes.push('before.rules has its own *nat section');
    if (manager === 'ufw' && m.ufw?.forwarding) notes.push(`forwarding on (DEFAULT_FORWARD_POLICY=${m.ufw.forwardPolicy ?? '?'})`);
    if (manager === 'ufw' && !m.ufw?.enabled) notes.push('not enabled');
    if (manager === 'firewalld') notes.push(`backend ${m.firewalld?.backend ?? 'nftables'}${m.firewalld?.version ? `, version ${m.firewalld.version}` : ''}`);
    if (manager === 'netfilter-persistent' && m[manager]?.saved.length) notes.push(`rules.v4 saves ${m[manager]!.saved.length} MASQUERADE rule(s)`);
    return {
      name: manager,
      ...(u ? { enabled: u.enabled, running: u.active } : {}),
      ...(flushesNat(m, manager) ? { flushes: SHORT[manager] } : {}),
      ...(st ? { hook: st.ok ? ('ok' as const) : st.why, hookPath: HOOK_PATH[manager] } : {}),
      notes,
    };
  });
  if (m.docker) out.push({ name: 'docker', notes: [m.docker.forwardDrop ? 'FORWARD policy DROP' : 'FORWARD policy not DROP'] });
  for (const o of m.others) out.push({ name: o, notes: ['does not flush the nat table'] });
  return out;
}

export interface Compliance {
  compliant: boolean;
  reasons: Reason[];
  notes: string[];
  iface?: string;
  method?: Persistence;
  ruleCount: number;
  /** Every interface of the spec has its rule exactly once. */
  rulesOk: boolean;
  /** Copies beyond the first, over the spec's interfaces. */
  duplicates: number;
  /** The robot's interfaces the spec matches now (a wildcard or a list: which are there). */
  matched: string[];
  persistenceInstalled: boolean;
  firedThisBoot: boolean;
  managers: ManagerReport[];
  /** Where the live rule lives (iptables' nat table, or fleetmasq's nftables table). */
  ruleBackend?: RuleBackend;
  /** Whether the boot persistence's location survives a boot (absent with external persistence). */
  root?: RootState;
}

/** Where a persistence method writes what must survive a boot. */
export const PERSISTENCE_PATH: Record<Exclude<Persistence, 'external'>, string> = { systemd: UNIT_PATH, 'rc.local': RC_LOCAL };

/** Why boot persistence cannot work at that location (a volatile or read-only root), if it cannot. */
export function rootRefusal(facts: Facts, method: Exclude<Persistence, 'external'>): Reason | undefined {
  const state = rootState(facts.storage, PERSISTENCE_PATH[method]);
  if (state.kind === 'volatile') return { code: 'root-volatile', state };
  if (state.kind === 'read-only') return { code: 'root-read-only', state };
  return undefined;
}

export function otherBackendWarning(facts: Facts, iface: string): string | undefined {
  if (facts.other && ifaceList(iface).some((i) => countRule(facts.other!.rules, i) > 0))
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

function unitReasons(facts: Facts, iface: string, backend: RuleBackend): Reason[] {
  const out: Reason[] = [];
  if (facts.unit === undefined) out.push({ code: 'unit-missing' });
  else if (unitInterface(facts.unit) !== iface) out.push({ code: 'unit-other-iface', found: unitInterface(facts.unit), expected: iface });
  else if (facts.unit !== renderUnit(iface, backend)) out.push({ code: 'unit-modified' });
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

/**
 * A robot's compliance from its facts, in three parts: the live rule (backend, uplink, one rule per
 * interface), notes on what else acts on the nat table, and persistence (the unit or rc.local block, a
 * hook beside each firewall manager, a root that keeps them across a boot).
 */
export function checkCompliance(facts: Facts, settings: MasqSettings): Compliance {
  const c: Compliance = { compliant: false, reasons: [], notes: [], ruleCount: 0, rulesOk: false, duplicates: 0, matched: [], persistenceInstalled: false, firedThisBoot: false, managers: managerReports(facts) };
  const iface = judgeLiveRule(facts, settings, c);
  if (iface === undefined) return c;
  c.managers = managerReports(facts, iface);
  c.notes.push(...neighbourNotes(facts, c.ruleBackend, iface));
  if (settings.persistence === 'external') {
    // The robot's own stack (a container's entry point) puts the rule back: only the live rule is fleetmasq's to judge.
    c.method = 'external';
    c.persistenceInstalled = true;
    c.notes.push('persistence is managed elsewhere (masquerade_persistence: external): only the live rule is checked');
  } else judgePersistence(facts, settings.persistence, c, iface);
  c.compliant = c.reasons.length === 0;
  return c;
}

/**
 * The live rule, into `c`: the backend it lives in, the uplink (undefined, with its reason, when there is
 * none to judge), each interface's rule count and what is wrong with it (in a list, a named uplink that
 * is not there now is no fault: another one carries the traffic).
 */
function judgeLiveRule(facts: Facts, settings: MasqSettings, c: Compliance): string | undefined {
  const be = chooseBackend(facts, settings.backend);
  if (typeof be !== 'string') c.reasons.push({ code: 'backend-unusable', error: be.error });
  else c.ruleBackend = be;
  if (be === 'iptables' && facts.rulesError) c.reasons.push({ code: 'iptables-broken', error: facts.rulesError });
  // The rules the live rule is counted in: iptables' POSTROUTING, or fleetmasq's nftables table.
  const live = be === 'nft' ? (facts.nft?.rules ?? []) : be === 'iptables' ? facts.rules : [];
  const choice = chooseInterface(facts, settings.interface);
  if ('error' in choice) {
    c.reasons.push({ code: 'no-uplink', message: choice.error });
    return undefined;
  }
  const iface = (c.iface = choice.iface);
  const parts = ifaceList(iface);
  const counts = parts.map((p) => countRule(live, p));
  c.ruleCount = counts.reduce((a, b) => a + b, 0);
  c.duplicates = counts.reduce((a, n) => a + Math.max(0, n - 1), 0);
  c.rulesOk = counts.every((n) => n === 1);
  c.matched = facts.links.map((l) => l.name).filter((n) => parts.some((p) => partMatches(p, n)));
  for (const [i, part] of parts.entries()) {
    const rs = ruleReasons(facts, part, counts[i]!).filter((r) => !(parts.length > 1 && (r.code === 'iface-missing' || r.code === 'iface-down')));
    c.reasons.push(...rs.map((r) => (r.code === 'rule-missing' && culprit(facts, iface) ? { ...r, cause: culprit(facts, iface) } : r)));
  }
  if ((parts.length > 1 || iface.includes('+')) && !c.matched.length) c.notes.push(`no interface matches ${iface} now: the rule acts once one appears`);
  return iface;
}

/** What else on the robot acts on the nat table or the traffic: firewalld's iptables backend, Docker's DROP policy, other masquerading, the other iptables backend. */
function neighbourNotes(facts: Facts, be: RuleBackend | undefined, iface: string): string[] {
  const notes: string[] = [];
  const parts = ifaceList(iface);
  if (facts.managers.firewalld?.backend === 'iptables')
    notes.push('firewalld uses its iptables backend: its direct rules live in POSTROUTING_direct, which fleetmasq does not read (not supported: check may call the rule missing after a firewalld reload)');
  const dk = facts.managers.docker;
  if (dk?.forwardDrop && dk.ipForward)
    notes.push(`Docker set the FORWARD policy to DROP: traffic forwarded through this robot (containers on other bridges, a robot LAN) is dropped whatever the nat rule does`);
  const others = masqueradeInterfaces(facts.rules).filter((i) => be === 'nft' || !parts.includes(i));
  if (others.length) notes.push(be === 'nft' ? `iptables also masquerades on ${others.join(', ')} (the rule fleetmasq checks is in its nftables table)` : `also masquerading on ${others.join(', ')}`);
  const w = be === 'iptables' ? otherBackendWarning(facts, iface) : undefined;
  if (w) notes.push(w);
  return notes;
}

/**
 * Persistence, into `c`: the method (asked for, or the one in place), its unit or rc.local block, a hook
 * beside each firewall manager that would take the rule away, a root that keeps them (a volatile or
 * read-only root: whatever is there now, nothing of it is there after the next boot), and whether it
 * fired at this boot.
 */
function judgePersistence(facts: Facts, persistence: Exclude<MasqSettings['persistence'], 'external'>, c: Compliance, iface: string): void {
  const unit = unitReasons(facts, iface, c.ruleBackend ?? 'iptables');
  const rc = rcLocalReason(facts, iface);
  const unitOk = unit.length === 0;
  const wanted = persistence === 'auto' ? undefined : persistence;
  const method = (c.method = wanted ?? (unitOk ? 'systemd' : !rc ? 'rc.local' : facts.systemd ? 'systemd' : 'rc.local'));
  const nft = c.ruleBackend === 'nft';
  const hooks: Reason[] = (nft ? presentNftFlushers(facts.managers) : presentManagers(facts.managers)).flatMap(({ manager, hook }) => {
    const st = nft ? nftHookState(iface, hook) : hookState(manager, iface, hook);
    const flush = flushesNat(facts.managers, manager) ? CLAUSE[manager] : undefined;
    return st.ok ? [] : [{ code: 'hook-missing' as const, manager, why: st.why, ...(st.detail ? { detail: st.detail } : {}), ...(flush ? { flush } : {}) }];
  });
  c.root = rootState(facts.storage, PERSISTENCE_PATH[method]);
  const refusal = rootRefusal(facts, method);
  const installed = method === 'systemd' ? unitOk : !rc;
  c.persistenceInstalled = installed && hooks.length === 0 && !refusal;
  if (refusal) c.reasons.push(refusal);
  if (!installed) c.reasons.push(...(method === 'systemd' ? unit : [rc!]));
  c.reasons.push(...hooks);
  c.firedThisBoot = facts.marker?.bootId === facts.bootId;
}
