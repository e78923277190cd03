/**
 * Modules as pure planners: facts + desired settings -> the typed operations a robot needs (none when it
 * is already right). The words of each change, its diff and the one remote script that makes them all
 * derive from those operations (words and diffs: src/modules/ops.ts; each one's shell: src/remote/ops.ts).
 */
import type { Facts } from '../facts/facts.js';
import { RC_LOCAL } from '../remote/paths.js';
import type { Step } from '../remote/script.js';
import { chooseBackend, type MasqSettings, type Persistence, type Reason, otherBackendWarning, reasonText, rootRefusal } from './compliance.js';
import { presentNftFlushers } from './nfthooks.js';
import { describe, diffOf, LIVE_RULE_OPS, type Backend, type Operation } from './ops.js';
import { stepOf } from '../remote/ops.js';
import { blockDamage, deadLinesAfterExit, findBlock, hasMarkers, removeBlock, withBlock } from '../remote/files/rclocal.js';
import { chooseInterface, countRule, IFACE_RE, ifaceList, partMatches, specError, type RuleBackend } from './rule.js';
import { firewalldFound, firewalldMissing, foundHooks, presentManagers } from './hooks.js';
import { desiredHook, desiredNftHook, withoutHook } from '../remote/files/hooks.js';
import { NFP_RULES_V4 } from '../remote/paths.js';
import { renderUnit, unitInterface } from '../remote/files/unit.js';

export interface Plan {
  iface?: string;
  method?: Persistence;
  ops: Operation[];
  /** Derived from ops: what will change, in words (empty when the robot is already right). */
  changes: string[];
  /** Derived from ops. */
  diffs: string[];
  /** Derived from ops: the steps of the one change script. */
  steps: Step[];
  warnings: string[];
  error?: string;
  /** Why boot persistence is refused here, typed (its words are `error`). */
  refusal?: Reason;
}

/** What planners build; `derive` turns it into a Plan. */
interface Draft {
  iface?: string;
  method?: Persistence;
  ops: Operation[];
  warnings: string[];
  error?: string;
  refusal?: Reason;
  /** Where the live rule lives on this robot. */
  ruleBackend?: RuleBackend;
}

const draft = (): Draft => ({ ops: [], warnings: [] });

function derive(d: Draft): Plan {
  return {
    ...d,
    changes: d.ops.flatMap(describe),
    diffs: d.ops.flatMap((op) => diffOf(op) ?? []).filter(Boolean),
    steps: d.ops.map(stepOf),
  };
}

/** A path fleetmasq will write to on a robot's word (a symlink's target): plain characters only. */
const SAFE_PATH = /^\/[A-Za-z0-9._/-]+$/;

/**
 * Where rc.local's bytes live: the file itself, or the target of the symlink (RHEL/Fedora ship
 * /etc/rc.local -> rc.d/rc.local), so that the link stays a link; or why fleetmasq will not edit it.
 */
function rcLocalTarget(facts: Facts): { path: string } | { error: string } {
  const rc = facts.rcLocal;
  const damage = rc && blockDamage(rc.content);
  if (damage) return { error: `${RC_LOCAL} ${damage}` };
  if (rc?.untrusted) return { error: `${RC_LOCAL}: ${rc.untrusted}, so another user could change what root runs at boot: fleetmasq will not edit it (use systemd persistence)` };
  if (rc?.notUtf8) return { error: `${RC_LOCAL} holds bytes that are not UTF-8, which an edit could not keep: fleetmasq will not edit it (use systemd persistence)` };
  const path = rc?.path ?? RC_LOCAL;
  if (!SAFE_PATH.test(path) || path.includes('/../')) return { error: `${RC_LOCAL} links to ${JSON.stringify(path)}: an unusual path, so fleetmasq will not write there` };
  return { path };
}

function resolveMethod(facts: Facts, wanted: MasqSettings['persistence']): Persistence | { error: string } {
  if (wanted === 'systemd' && !facts.systemd) return { error: 'masquerade_persistence is systemd, but systemd is not PID 1 on this robot: use rc.local' };
  if (wanted === 'auto') return facts.systemd ? 'systemd' : 'rc.local';
  return wanted;
}

/** Persistence managed elsewhere: fleetmasq's own boot hooks (if any) go, so that one owner remains. */
function draftExternal(facts: Facts, d: Draft): Draft {
  draftUnitRemove(facts, d, ' (persistence is now external)');
  draftRcRestore(facts, d, ' (persistence is now external)', 'warn');
  // firewalld's direct rules carry no mark of fleetmasq's: with persistence external, one there may be the operator's own.
  draftHooksRemove(facts, d, []);
  return d;
}

/**
 * The interface for the rule, or why there is none. A named interface that does not exist on the robot
 * is an error (a typo would otherwise move the fix to nowhere at the next boot) unless the operator said
 * it will appear; a wildcard (`usb+`) is taken as it is.
 */
function planInterface(facts: Facts, settings: Pick<MasqSettings, 'interface' | 'allowAbsentInterface'>, d: Draft): { iface: string } | { error: string } {
  const choice = chooseInterface(facts, settings.interface);
  if ('error' in choice) return choice;
  const iface = choice.iface;
  const bad = specError(iface);
  if (bad) return { error: choice.how === 'named' ? `masquerade_interface: ${bad}` : `the default route's interface '${iface}' is not a usable interface name` };
  if (choice.how !== 'named') return { iface };
  const parts = ifaceList(iface);
  const names = facts.links.map((l) => l.name);
  const absent = parts.filter((p) => !p.endsWith('+') && !names.includes(p));
  const matching = parts.filter((p) => names.some((n) => partMatches(p, n)));
  // A list is uplinks that come and go: its absent names are fine while another part is there now.
  if (absent.length && !(parts.length > 1 && matching.length) && !settings.allowAbsentInterface)
    return {
      error: `interface ${absent.join(', ')} does not exist on this robot (it has ${names.join(', ') || 'none'}): nothing changed; if it will appear later, say so with --allow-absent-interface or masquerade_allow_absent_interface: true`,
    };
  for (const p of absent) d.warnings.push(`interface ${p} does not exist on this robot (yet): its rule will only act once it does`);
  return { iface };
}

/** Interfaces fleetmasq itself put the rule on: its unit, its rc.local block, its boot marker. */
function fleetmasqInterfaces(facts: Facts): string[] {
  const out = new Set<string>();
  const u = facts.unit && unitInterface(facts.unit);
  if (u) ifaceList(u).forEach((i) => out.add(i));
  const b = facts.rcLocal && findBlock(facts.rcLocal.content);
  if (b && b.iface) ifaceList(b.iface).forEach((i) => out.add(i));
  if (facts.marker) ifaceList(facts.marker.iface).forEach((i) => out.add(i));
  return [...out].filter((i) => IFACE_RE.test(i));
}

/**
 * The live rule: exactly once on the interface. A rule fleetmasq had put on another interface moves
 * (deleted there); masquerading the operator set up on other interfaces is left alone.
 */
function draftRule(facts: Facts, settings: Pick<MasqSettings, 'interface' | 'allowAbsentInterface' | 'backend'>, d: Draft): Draft {
  const be = chooseBackend(facts, settings.backend);
  if (typeof be !== 'string') return { ...d, error: be.error };
  d.ruleBackend = be;
  if (be === 'iptables' && facts.rulesError)
    return { ...d, error: `iptables does not work on this robot: ${facts.rulesError}${facts.nft?.present ? ' (nft is here: masquerade_backend: nft puts the rule in an nftables table of its own)' : ''}` };
  const chosen = planInterface(facts, settings, d);
  if ('error' in chosen) return { ...d, error: chosen.error };
  const iface = (d.iface = chosen.iface);
  const parts = ifaceList(iface);
  if (be === 'nft') return draftNftRule(facts, iface, d);
  const backend: Backend = facts.backend;
  for (const old of fleetmasqInterfaces(facts)) {
    const count = parts.includes(old) ? 0 : countRule(facts.rules, old);
    if (count) d.ops.push({ kind: 'rule-move', from: old, to: iface, count, backend });
  }
  for (const part of parts) {
    const n = countRule(facts.rules, part);
    if (n === 0) d.ops.push({ kind: 'rule', iface: part, backend });
    else if (n > 1) d.ops.push({ kind: 'dedupe', iface: part, extra: n - 1, backend });
  }
  const w = otherBackendWarning(facts, iface);
  if (w) d.warnings.push(w);
  return d;
}

/**
 * The live rule in fleetmasq's own nftables table: the table is made again whole unless it holds exactly
 * the spec's rules, once each (so a move or a duplicate needs nothing else). A copy in iptables stays
 * the operator's: said, not touched.
 */
function draftNftRule(facts: Facts, iface: string, d: Draft): Draft {
  const parts = ifaceList(iface);
  const have = facts.nft?.rules ?? [];
  const exact = have.length === parts.length && parts.every((p) => countRule(have, p) === 1);
  if (!exact || !facts.nft?.table) d.ops.push({ kind: 'nft-table', iface, before: have });
  const copies = parts.filter((p) => countRule(facts.rules, p) > 0);
  if (copies.length) d.warnings.push(`iptables also masquerades on ${copies.join(', ')}: fleetmasq's rule is in its own nftables table (table ip fleetmasq)`);
  return d;
}

/** Takes fleetmasq's block out of rc.local. A file it must not edit fails a remove, and only warns otherwise. */
function draftRcRestore(facts: Facts, d: Draft, why: string, onRefusal: 'error' | 'warn'): void {
  // Nothing of fleetmasq's in it (no markers at all): nothing to restore, whatever the file is.
  if (!facts.rcLocal || !hasMarkers(facts.rcLocal.content)) return;
  const target = rcLocalTarget(facts);
  if ('error' in target) {
    if (onRefusal === 'error') d.error ??= target.error;
    else d.warnings.push(target.error);
    return;
  }
  if (!findBlock(facts.rcLocal.content)) return;
  d.ops.push({ kind: 'rclocal-restore', path: target.path, before: facts.rcLocal, after: removeBlock(facts.rcLocal), why });
}

function draftUnitRemove(facts: Facts, d: Draft, why: string): void {
  if (facts.unit === undefined && !facts.unitEnabled?.startsWith('enabled')) return;
  d.ops.push({ kind: 'unit-remove', before: facts.unit, systemd: facts.systemd, why });
}

/** Hooks beside the firewall managers that flush the nat table: after each of their (re)starts and reloads. */
function draftHooks(facts: Facts, iface: string, d: Draft, be: RuleBackend): void {
  if (be === 'nft') {
    // Only a ruleset flush takes fleetmasq's own table: nftables.service's.
    for (const { manager, hook } of presentNftFlushers(facts.managers)) {
      const want = desiredNftHook(iface);
      if (!hook || hook.content !== want.content || hook.mode !== want.mode) d.ops.push({ kind: 'hook', manager, before: hook, after: want, systemd: facts.systemd });
    }
    return;
  }
  for (const { manager, hook } of presentManagers(facts.managers)) {
    if (manager === 'firewalld') {
      // Through firewalld itself, never by editing its direct.xml (see src/remote/firewalld.ts).
      const add = firewalldMissing(iface, hook);
      if (add.length) d.ops.push({ kind: 'firewalld-direct', add, remove: [] });
      continue;
    }
    const want = desiredHook(manager, iface, hook);
    if ('error' in want) {
      d.error ??= want.error;
      continue;
    }
    if (hook && hook.content === want.content && hook.mode === want.mode) continue;
    d.ops.push({ kind: 'hook', manager, before: hook, after: want, systemd: facts.systemd });
  }
}

/** Takes every hook out; a file whose markers are damaged fails the remove (nothing half-done). */
function draftHooksRemove(facts: Facts, d: Draft, ifaces: string[]): void {
  for (const { manager, hook } of foundHooks(facts.managers)) {
    if (manager === 'firewalld') {
      const remove = firewalldFound(ifaces, hook);
      if (remove.length) d.ops.push({ kind: 'firewalld-direct', add: [], remove });
      continue;
    }
    const w = withoutHook(manager, hook);
    if ('error' in w) {
      d.error ??= w.error;
      continue;
    }
    if (w.present) d.ops.push({ kind: 'hook-remove', manager, before: hook, after: w.file, systemd: facts.systemd });
  }
}

/** Persistence: a boot hook that re-applies the rule idempotently and writes the boot marker. */
function draftPersist(facts: Facts, settings: MasqSettings, d: Draft): Draft {
  if (d.error) return d;
  if (!d.iface) {
    const chosen = planInterface(facts, settings, d);
    if ('error' in chosen) return { ...d, error: chosen.error };
    d.iface = chosen.iface;
  }
  const iface = d.iface;
  const method = resolveMethod(facts, settings.persistence);
  if (typeof method !== 'string') return { ...d, error: method.error };
  d.method = method;
  if (method === 'external') return draftExternal(facts, d);
  const be = d.ruleBackend ?? chooseBackend(facts, settings.backend);
  if (typeof be !== 'string') return { ...d, error: be.error };
  // A volatile or read-only root: boot persistence there would be gone (or fail) by the next boot.
  const refusal = rootRefusal(facts, method);
  if (refusal) return { ...d, ops: [], refusal, error: reasonText(refusal) };
  draftHooks(facts, iface, d, be);
  if (d.error) return d;
  if (method === 'systemd') {
    const write = facts.unit !== renderUnit(iface, be);
    const enable = facts.unitEnabled !== 'enabled';
    if (write || enable) d.ops.push({ kind: 'unit', iface, before: facts.unit, write, enable, ...(be === 'nft' ? { ruleBackend: be } : {}) });
    draftRcRestore(facts, d, ' (persistence is now systemd)', 'warn');
    return d;
  }
  if (facts.systemd && facts.rcLocalService === 'masked')
    return { ...d, error: 'rc-local.service is masked, so /etc/rc.local would never run at boot: unmask it or use systemd persistence' };
  const target = rcLocalTarget(facts);
  if ('error' in target) return { ...d, error: target.error };
  const next = withBlock(facts.rcLocal, iface, be);
  if (!facts.rcLocal || facts.rcLocal.content !== next.content || facts.rcLocal.mode !== next.mode) d.ops.push({ kind: 'rclocal', path: target.path, before: facts.rcLocal, after: next });
  draftUnitRemove(facts, d, ' (persistence is now rc.local)');
  const dead = deadLinesAfterExit(facts.rcLocal?.content ?? '').filter((l) => /MASQUERADE/.test(l));
  if (dead.length) d.warnings.push(`${RC_LOCAL} has lines after its exit that never run: ${dead.join(' | ')}`);
  return d;
}

/** The live rule alone (the playbook module `masquerade`). */
export function planRule(facts: Facts, settings: Pick<MasqSettings, 'interface' | 'allowAbsentInterface' | 'backend'>): Plan {
  return derive(draftRule(facts, settings, draft()));
}

/** Persistence alone (the playbook module `persist`). */
export function planPersist(facts: Facts, settings: MasqSettings): Plan {
  return derive(draftPersist(facts, settings, draft()));
}

export function planApply(facts: Facts, settings: MasqSettings): Plan {
  const d = draftPersist(facts, settings, draftRule(facts, settings, draft()));
  // Persistence first, then the live rule: a robot cut off half-way keeps a working boot hook.
  d.ops = [...d.ops.filter((op) => !LIVE_RULE_OPS.has(op.kind)), ...d.ops.filter((op) => LIVE_RULE_OPS.has(op.kind))];
  return derive(d);
}

/** Undo everything: every copy of the rule (both backends), the unit, the rc.local block, the marker. */
export function planRemove(facts: Facts, settings: Pick<MasqSettings, 'interface'>): Plan {
  const d = draft();
  const ifaces = new Set<string>();
  const choice = chooseInterface(facts, settings.interface);
  if ('iface' in choice) ifaceList(choice.iface).forEach((i) => ifaces.add(i));
  for (const i of fleetmasqInterfaces(facts)) ifaces.add(i);
  draftUnitRemove(facts, d, '');
  draftRcRestore(facts, d, '', 'error');
  draftHooksRemove(facts, d, [...ifaces].filter((i) => IFACE_RE.test(i)));
  for (const iface of [...ifaces].filter((i) => IFACE_RE.test(i))) {
    const count = countRule(facts.rules, iface);
    if (count > 0) d.ops.push({ kind: 'rule-delete', iface, count, backend: facts.backend });
    if (facts.other && countRule(facts.other.rules, iface) > 0) d.ops.push({ kind: 'rule-delete-other', iface, tool: `iptables-${facts.other.backend}` });
  }
  const saved = facts.managers['netfilter-persistent']?.saved.filter((r) => [...ifaces].some((i) => IFACE_RE.test(i) && r === `-A POSTROUTING -o ${i} -j MASQUERADE`));
  if (saved?.length)
    d.warnings.push(`${NFP_RULES_V4} holds the rule (saved with 'netfilter-persistent save'): netfilter-persistent puts it back at every boot; delete the line '${saved[0]}' there`);
  if (facts.nft?.table) d.ops.push({ kind: 'nft-table-remove', before: facts.nft.rules });
  // The marker goes with the rest; alone (nothing else to undo) it is no reason to touch the robot.
  if (facts.marker && d.ops.length) d.ops.push({ kind: 'marker-remove' });
  return derive(d);
}
