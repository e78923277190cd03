/**
 * Modules as pure planners: facts + desired settings -> the changes to make, their diffs, and one
 * remote script that makes them (or nothing at all when the robot is already right).
 */
import { MARKER, RC_LOCAL, UNIT_NAME, UNIT_PATH, type Facts } from '../facts/facts.js';
import { unifiedDiff } from '../util/diff.js';
import { shQuote } from '../util/quote.js';
import { blockDamage, deadLinesAfterExit, findBlock, removeBlock, withBlock } from './rclocal.js';
import { chooseInterface, countRule, ensureRuleSh, IFACE_RE, masqueradeInterfaces, ruleArgs } from './rule.js';
import { renderUnit, unitInterface } from './unit.js';

export type Persistence = 'systemd' | 'rc.local';

export interface MasqSettings {
  /** A name or 'auto'. */
  interface: string;
  persistence: Persistence | 'auto';
  /** A named interface missing on the robot is no error (it will appear: a USB hotspot). */
  allowAbsentInterface?: boolean;
}

export interface Plan {
  iface?: string;
  method?: Persistence;
  /** What will change, in words. Empty when the robot is already right. */
  changes: string[];
  diffs: string[];
  warnings: string[];
  /** Shell fragments, joined into one script; empty when there is nothing to do. */
  steps: { name: string; sh: string }[];
  error?: string;
}

const SCRIPT_HEAD = `set -eu
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
fm_step() { echo "@@FM step $1"; }
fm_sync() { sync "$1" 2>/dev/null || sync; }
fm_write() {
  tmp="$1.fleetmasq-tmp.$$"
  if printf '%s' "$3" | base64 -d > "$tmp" && chmod "$2" "$tmp" && fm_sync "$tmp" && mv -f "$tmp" "$1"; then fm_sync "\${1%/*}"; else rm -f "$tmp"; return 1; fi
}
`;

export function renderScript(steps: Plan['steps']): string {
  return SCRIPT_HEAD + steps.map((s) => `fm_step ${shQuote(s.name)}\n${s.sh}\n`).join('') + 'echo "@@FM done"\n';
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** The shell that writes a file on a robot: atomic (temp file, rename) and durable (synced before and after). */
export function writeFile(path: string, content: string, mode: number): string {
  return `fm_write ${shQuote(path)} ${mode.toString(8).padStart(4, '0')} ${shQuote(b64(content))}`;
}

/** A path fleetmasq will write to on a robot's word (a symlink's target): plain characters only. */
const SAFE_PATH = /^\/[A-Za-z0-9._/-]+$/;

/**
 * Where rc.local's bytes live: the file itself, or the target of the symlink (RHEL/Fedora ship
 * /etc/rc.local -> rc.d/rc.local), so that the link stays a link; or why fleetmasq will not edit it.
 */
function rcLocalTarget(facts: Facts): { path: string } | { error: string } {
  const rc = facts.rcLocal;
  if (rc && blockDamage(rc.content)) return { error: `${RC_LOCAL} ${blockDamage(rc.content)}` };
  const path = rc?.path ?? RC_LOCAL;
  if (!SAFE_PATH.test(path) || path.includes('/../')) return { error: `${RC_LOCAL} links to ${JSON.stringify(path)}: an unusual path, so fleetmasq will not write there` };
  return { path };
}

function resolveMethod(facts: Facts, wanted: MasqSettings['persistence']): Persistence | { error: string } {
  if (wanted === 'systemd' && !facts.systemd) return { error: 'masquerade_persistence is systemd, but systemd is not PID 1 on this robot: use rc.local' };
  if (wanted === 'auto') return facts.systemd ? 'systemd' : 'rc.local';
  return wanted;
}

function emptyPlan(): Plan {
  return { changes: [], diffs: [], warnings: [], steps: [] };
}

function otherBackendWarning(facts: Facts, iface: string): string | undefined {
  if (facts.other && countRule(facts.other.rules, iface) > 0)
    return `a copy of the rule sits in the iptables-${facts.other.backend} tables, invisible to the active iptables (${facts.backend})`;
  return undefined;
}

/**
 * The interface for the rule, or why there is none. A named interface that does not exist on the robot
 * is an error (a typo would otherwise move the fix to nowhere at the next boot) unless the operator said
 * it will appear; a wildcard (`usb+`) is taken as it is.
 */
function planInterface(facts: Facts, settings: Pick<MasqSettings, 'interface' | 'allowAbsentInterface'>, plan: Plan): { iface: string } | { error: string } {
  const choice = chooseInterface(facts, settings.interface);
  if ('error' in choice) return choice;
  const iface = choice.iface;
  if (!IFACE_RE.test(iface)) return { error: `the default route's interface '${iface}' is not a usable interface name` };
  if (choice.how === 'named' && !iface.endsWith('+') && !facts.links.some((l) => l.name === iface)) {
    if (!settings.allowAbsentInterface)
      return {
        error: `interface ${iface} does not exist on this robot (it has ${facts.links.map((l) => l.name).join(', ') || 'none'}): nothing changed; if it will appear later, say so with --allow-absent-interface or masquerade_allow_absent_interface: true`,
      };
    plan.warnings.push(`interface ${iface} does not exist on this robot (yet): the rule will only act once it does`);
  }
  return { iface };
}

/** Interfaces fleetmasq itself put the rule on: its unit, its rc.local block, its boot marker. */
function fleetmasqInterfaces(facts: Facts): string[] {
  const out = new Set<string>();
  const u = facts.unit && unitInterface(facts.unit);
  if (u) out.add(u);
  const b = facts.rcLocal && findBlock(facts.rcLocal.content);
  if (b && b.iface) out.add(b.iface);
  if (facts.marker) out.add(facts.marker.iface);
  return [...out].filter((i) => IFACE_RE.test(i));
}

function deleteRuleSh(iface: string, tool = 'iptables'): string {
  const rule = ruleArgs(iface);
  return `while ${tool} -w -t nat -C ${rule} 2>/dev/null; do ${tool} -w -t nat -D ${rule}; done`;
}

/**
 * The live rule: exactly once on the interface. A rule fleetmasq had put on another interface moves
 * (deleted there); masquerading the operator set up on other interfaces is left alone.
 */
export function planRule(facts: Facts, settings: Pick<MasqSettings, 'interface' | 'allowAbsentInterface'>, plan: Plan = emptyPlan()): Plan {
  if (facts.rulesError) return { ...plan, error: `iptables does not work on this robot: ${facts.rulesError}` };
  const chosen = planInterface(facts, settings, plan);
  if ('error' in chosen) return { ...plan, error: chosen.error };
  const iface = (plan.iface = chosen.iface);
  for (const old of fleetmasqInterfaces(facts)) {
    const n = old === iface ? 0 : countRule(facts.rules, old);
    if (!n) continue;
    plan.changes.push(`move the live rule from ${old} to ${iface}: iptables -t nat -D ${ruleArgs(old)}`);
    plan.diffs.push(`iptables -t nat (${facts.backend}):\n${Array(n).fill(`- -A ${ruleArgs(old)}`).join('\n')}\n`);
    plan.steps.push({ name: 'rule-move', sh: deleteRuleSh(old) });
  }
  const rule = ruleArgs(iface);
  const n = countRule(facts.rules, iface);
  if (n === 0) {
    plan.changes.push(`add live rule: iptables -t nat -A ${rule}`);
    plan.diffs.push(`iptables -t nat (${facts.backend}):\n+ -A ${rule}\n`);
    plan.steps.push({ name: 'rule', sh: ensureRuleSh(iface) });
  } else if (n > 1) {
    plan.changes.push(`remove ${n - 1} duplicate(s) of the live rule on ${iface}`);
    plan.diffs.push(`iptables -t nat (${facts.backend}):\n${Array(n - 1).fill(`- -A ${rule}`).join('\n')}\n`);
    plan.steps.push({
      name: 'dedupe',
      sh: `n=$(iptables -w -t nat -S POSTROUTING | grep -cxF -- ${shQuote(`-A ${rule}`)} || true)\nwhile [ "$n" -gt 1 ]; do iptables -w -t nat -D ${rule}; n=$((n-1)); done`,
    });
  }
  const w = otherBackendWarning(facts, iface);
  if (w) plan.warnings.push(w);
  return plan;
}

function removeUnitSteps(facts: Facts, plan: Plan, why: string): void {
  if (facts.unit === undefined && !facts.unitEnabled?.startsWith('enabled')) return;
  plan.changes.push(`remove the systemd unit ${UNIT_NAME}${why}`);
  if (facts.unit !== undefined) plan.diffs.push(unifiedDiff(facts.unit, '', UNIT_PATH, '/dev/null'));
  plan.steps.push({
    name: 'unit-remove',
    sh: facts.systemd
      ? // Stopped first (it has no ExecStop: the rule stays until deleted below), so systemd does not
        // keep a phantom active unit without a file after the reload.
        `systemctl stop --quiet ${UNIT_NAME} 2>/dev/null || true\nsystemctl disable --quiet --no-reload ${UNIT_NAME} 2>/dev/null || true\nrm -f ${UNIT_PATH}\nsystemctl daemon-reload`
      : `rm -f ${UNIT_PATH} /etc/systemd/system/*.wants/${UNIT_NAME}`,
  });
}

/** Takes fleetmasq's block out of rc.local. A file it must not edit fails a remove, and only warns otherwise. */
function removeRcBlockSteps(facts: Facts, plan: Plan, why: string, onRefusal: 'error' | 'warn'): void {
  if (!facts.rcLocal) return;
  const target = rcLocalTarget(facts);
  if ('error' in target) {
    if (onRefusal === 'error') plan.error ??= target.error;
    else plan.warnings.push(target.error);
    return;
  }
  if (!findBlock(facts.rcLocal.content)) return;
  const before = removeBlock(facts.rcLocal);
  plan.changes.push(before ? `remove fleetmasq's block from ${RC_LOCAL}${why}` : `delete ${RC_LOCAL} (fleetmasq created it)${why}`);
  plan.diffs.push(unifiedDiff(facts.rcLocal.content, before?.content ?? '', RC_LOCAL, before ? RC_LOCAL : '/dev/null'));
  plan.steps.push({ name: 'rclocal-restore', sh: before ? writeFile(target.path, before.content, before.mode) : `rm -f ${RC_LOCAL}\nfm_sync /etc` });
}

/** Reloads systemd only if its view of our unit differs from the file on disk. */
export const RELOAD_IF_STALE = `case "$(systemctl show -p LoadState -p NeedDaemonReload ${UNIT_NAME} 2>/dev/null | sort | tr '\\n' ' ')" in
  'LoadState=loaded NeedDaemonReload=no ') ;;
  *) systemctl daemon-reload ;;
esac`;

/** Persistence: a boot hook that re-applies the rule idempotently and writes the boot marker. */
export function planPersist(facts: Facts, settings: MasqSettings, plan: Plan = emptyPlan()): Plan {
  if (plan.error) return plan;
  if (!plan.iface) {
    const chosen = planInterface(facts, settings, plan);
    if ('error' in chosen) return { ...plan, error: chosen.error };
    plan.iface = chosen.iface;
  }
  const iface = plan.iface;
  const method = resolveMethod(facts, settings.persistence);
  if (typeof method !== 'string') return { ...plan, error: method.error };
  plan.method = method;
  if (method === 'systemd') {
    const unit = renderUnit(iface);
    const steps: string[] = [];
    const enable = facts.unitEnabled !== 'enabled';
    if (facts.unit !== unit) {
      plan.changes.push(`${facts.unit === undefined ? 'install' : 'update'} the systemd unit ${UNIT_NAME}`);
      plan.diffs.push(unifiedDiff(facts.unit ?? '', unit, facts.unit === undefined ? '/dev/null' : UNIT_PATH, UNIT_PATH));
      steps.push(writeFile(UNIT_PATH, unit, 0o644));
    }
    if (enable) {
      plan.changes.push(`enable ${UNIT_NAME} at boot`);
      // Enabling is the [Install] symlink; the next boot is what it is for: no reload here.
      steps.push(`systemctl enable --quiet --no-reload ${UNIT_NAME}`);
    }
    // A manager reload costs ~0.1 s of CPU in the robot's PID 1, so only when systemd's view of the
    // unit is not what is on disk (an old definition, or a unit still active whose file had been
    // deleted); a new unit is simply loaded from disk on demand.
    if (facts.unit !== unit) steps.push(RELOAD_IF_STALE);
    if (steps.length) plan.steps.push({ name: 'unit', sh: steps.join('\n') });
    removeRcBlockSteps(facts, plan, ' (persistence is now systemd)', 'warn');
  } else {
    if (facts.systemd && facts.rcLocalService === 'masked')
      return { ...plan, error: 'rc-local.service is masked, so /etc/rc.local would never run at boot: unmask it or use systemd persistence' };
    const target = rcLocalTarget(facts);
    if ('error' in target) return { ...plan, error: target.error };
    const next = withBlock(facts.rcLocal, iface);
    if (!facts.rcLocal || facts.rcLocal.content !== next.content || facts.rcLocal.mode !== next.mode) {
      if (!facts.rcLocal) plan.changes.push(`create ${RC_LOCAL} (mode 0755) with fleetmasq's block`);
      else {
        const where = facts.rcLocal.path ? `${RC_LOCAL} (-> ${facts.rcLocal.path})` : RC_LOCAL;
        if (facts.rcLocal.content !== next.content) plan.changes.push(`${findBlock(facts.rcLocal.content) ? 'update' : 'add'} fleetmasq's block in ${where}`);
        if (!facts.rcLocal.content.startsWith('#!')) plan.changes.push(`add the missing shebang to ${where}`);
        if ((facts.rcLocal.mode & 0o100) === 0) plan.changes.push(`make ${where} executable by its owner (mode ${next.mode.toString(8).padStart(4, '0')})`);
      }
      plan.diffs.push(unifiedDiff(facts.rcLocal?.content ?? '', next.content, facts.rcLocal ? RC_LOCAL : '/dev/null', RC_LOCAL));
      plan.steps.push({ name: 'rclocal', sh: writeFile(target.path, next.content, next.mode) });
    }
    removeUnitSteps(facts, plan, ' (persistence is now rc.local)');
    const dead = deadLinesAfterExit(facts.rcLocal?.content ?? '').filter((l) => /MASQUERADE/.test(l));
    if (dead.length) plan.warnings.push(`${RC_LOCAL} has lines after its exit that never run: ${dead.join(' | ')}`);
  }
  return plan;
}

export function planApply(facts: Facts, settings: MasqSettings): Plan {
  // Persistence first, then the live rule: a robot cut off half-way keeps a working boot hook.
  const persist = planPersist(facts, settings, planRule(facts, settings));
  const live = (s: { name: string }) => s.name === 'rule' || s.name === 'dedupe' || s.name === 'rule-move';
  persist.steps = [...persist.steps.filter((s) => !live(s)), ...persist.steps.filter(live)];
  return persist;
}

/** Undo everything: every copy of the rule (both backends), the unit, the rc.local block, the marker. */
export function planRemove(facts: Facts, settings: Pick<MasqSettings, 'interface'>): Plan {
  const plan = emptyPlan();
  const ifaces = new Set<string>();
  const choice = chooseInterface(facts, settings.interface);
  if ('iface' in choice) ifaces.add(choice.iface);
  for (const i of fleetmasqInterfaces(facts)) ifaces.add(i);
  removeUnitSteps(facts, plan, '');
  removeRcBlockSteps(facts, plan, '', 'error');
  for (const iface of [...ifaces].filter((i) => IFACE_RE.test(i))) {
    const rule = ruleArgs(iface);
    const n = countRule(facts.rules, iface);
    if (n > 0) {
      plan.changes.push(`delete ${n} live rule(s): iptables -t nat -D ${rule}`);
      plan.diffs.push(`iptables -t nat (${facts.backend}):\n${Array(n).fill(`- -A ${rule}`).join('\n')}\n`);
      plan.steps.push({ name: 'rule-delete', sh: deleteRuleSh(iface) });
    }
    if (facts.other && countRule(facts.other.rules, iface) > 0) {
      const tool = `iptables-${facts.other.backend}`;
      plan.changes.push(`delete the copy of the rule in the ${tool} tables`);
      plan.steps.push({ name: 'rule-delete-other', sh: deleteRuleSh(iface, tool) });
    }
  }
  // The marker goes with the rest; alone (nothing else to undo) it is no reason to touch the robot.
  if (facts.marker && plan.changes.length) plan.steps.push({ name: 'marker', sh: `rm -f ${MARKER}; rmdir /run/fleetmasq 2>/dev/null || true` });
  return plan;
}

export interface Compliance {
  compliant: boolean;
  reasons: string[];
  notes: string[];
  iface?: string;
  method?: Persistence;
  ruleCount: number;
  persistenceInstalled: boolean;
  firedThisBoot: boolean;
}

/** Compliance: the rule live exactly once on the expected interface AND persistence installed and enabled. */
export function checkCompliance(facts: Facts, settings: MasqSettings): Compliance {
  const reasons: string[] = [];
  const notes: string[] = [];
  const c: Compliance = { compliant: false, reasons, notes, ruleCount: 0, persistenceInstalled: false, firedThisBoot: false };
  if (facts.rulesError) reasons.push(`iptables does not work: ${facts.rulesError}`);
  const choice = chooseInterface(facts, settings.interface);
  if ('error' in choice) {
    reasons.push(choice.error);
    return c;
  }
  const iface = (c.iface = choice.iface);
  c.ruleCount = countRule(facts.rules, iface);
  if (c.ruleCount === 0) reasons.push(`the rule is not live on ${iface}`);
  if (c.ruleCount > 1) reasons.push(`the rule is live ${c.ruleCount} times on ${iface} (duplicates)`);
  const link = facts.links.find((l) => l.name === iface);
  if (!iface.endsWith('+')) {
    if (!link) reasons.push(`interface ${iface} does not exist on the robot`);
    else if (!link.up) reasons.push(`interface ${iface} is down`);
  }
  const others = masqueradeInterfaces(facts.rules).filter((i) => i !== iface);
  if (others.length) notes.push(`also masquerading on ${others.join(', ')}`);
  const w = otherBackendWarning(facts, iface);
  if (w) notes.push(w);

  const unitOk = facts.unit === renderUnit(iface) && facts.unitEnabled === 'enabled';
  const block = facts.rcLocal ? findBlock(facts.rcLocal.content) : undefined;
  const rcOk =
    !!facts.rcLocal &&
    !!block &&
    block.iface === iface &&
    facts.rcLocal.content.startsWith('#!') &&
    (facts.rcLocal.mode & 0o100) !== 0 &&
    !(facts.systemd && facts.rcLocalService === 'masked');
  const wanted = settings.persistence === 'auto' ? undefined : settings.persistence;
  c.method = wanted ?? (unitOk ? 'systemd' : rcOk ? 'rc.local' : facts.systemd ? 'systemd' : 'rc.local');
  c.persistenceInstalled = c.method === 'systemd' ? unitOk : rcOk;
  if (!c.persistenceInstalled) {
    if (c.method === 'systemd') {
      if (facts.unit === undefined) reasons.push(`persistence missing: no ${UNIT_NAME}`);
      else if (unitInterface(facts.unit) !== iface) reasons.push(`persistence is for ${unitInterface(facts.unit) ?? 'another interface'}, expected ${iface}`);
      else if (facts.unit !== renderUnit(iface)) reasons.push(`${UNIT_NAME} was modified`);
      if (facts.unit !== undefined && facts.unitEnabled !== 'enabled') reasons.push(`${UNIT_NAME} is not enabled (${facts.unitEnabled ?? 'unknown'})`);
    } else if (!facts.rcLocal) reasons.push(`persistence missing: no ${RC_LOCAL}`);
    else if (blockDamage(facts.rcLocal.content)) reasons.push(`${RC_LOCAL} ${blockDamage(facts.rcLocal.content)}`);
    else if (!block) reasons.push(`persistence missing: no fleetmasq block in ${RC_LOCAL}`);
    else if (block.iface !== iface) reasons.push(`persistence is for ${block.iface}, expected ${iface}`);
    else if (!facts.rcLocal.content.startsWith('#!')) reasons.push(`${RC_LOCAL} has no shebang`);
    else if ((facts.rcLocal.mode & 0o100) === 0) reasons.push(`${RC_LOCAL} is not executable`);
    else reasons.push('rc-local.service is masked: rc.local never runs at boot');
  }
  c.firedThisBoot = facts.marker?.bootId === facts.bootId;
  c.compliant = reasons.length === 0;
  return c;
}
