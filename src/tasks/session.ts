/**
 * One robot's session, shared by every command's task: its settings, its facts in one command, the
 * lock protocol around a change (take it, re-read the facts, plan again when another run changed the
 * robot), running a plan's one script, and judging compliance.
 */
import { HostError } from '../errors.js';
import { FACTS_SCRIPT, factDetails, parseFacts, type Facts } from '../facts/facts.js';
import { checkCompliance, managerReports, reasonText, type Compliance, type MasqSettings, type Reason } from '../modules/compliance.js';
import { type Plan } from '../modules/plan.js';
import { lockInfo, lockMessage, parseRun, type LockInfo, type LockSpec } from '../remote/script.js';
import { changeScript, hashOfFacts } from '../remote/change.js';
import type { Vars } from '../inventory/inventory.js';
import { interfaceSpec, truthy } from '../inventory/vars.js';
import type { ExecResult, SshConnection } from '../transport/ssh.js';
import type { HostContext } from '../runner/runner.js';
import { emptyOutcome, reason, type HostDetails, type HostOutcome, type HostRaw, type ReasonItem } from '../runner/types.js';
import { retry, type Backoff } from '../util/retry.js';

export interface TaskOptions {
  /** Overrides of the inventory's masquerade_interface / masquerade_persistence. */
  interface?: string;
  persistence?: MasqSettings['persistence'];
  /** --allow-absent-interface: a named interface that does not exist on the robot (yet) is no error. */
  allowAbsentInterface?: boolean;
  /** reboot --force: reboot robots that are not compliant before the reboot too. */
  force?: boolean;
  /** --check: change nothing, report what would change. */
  checkMode?: boolean;
  commandTimeoutMs?: number;
  /** Who runs it and which command: each robot that changes logs it (journal/syslog, tag fleetmasq). */
  audit?: { by: string; command: string };
  /** A change holds the robot's lock: this run's id, who it is, and how long to wait for another's. */
  lock?: { runId: string; holder: string; waitMs?: number };
}


export function settingsFor(vars: Vars, o: TaskOptions): MasqSettings {
  return {
    interface: o.interface ?? interfaceSpec(vars.masquerade_interface),
    persistence: (o.persistence ?? vars.masquerade_persistence ?? 'auto') as MasqSettings['persistence'],
    allowAbsentInterface: o.allowAbsentInterface || truthy(vars.masquerade_allow_absent_interface),
    backend: (vars.masquerade_backend ?? 'auto') as MasqSettings['backend'],
  };
}

/** What a plan was made from: the facts' bytes (less the clock line), so a change can check they still hold. */
const factsHash = new WeakMap<Facts, string>();
/** The facts' output as the robot sent it: kept in the result of a robot found not compliant (`raw.facts`). */
const factsText = new WeakMap<Facts, string>();
/** The change script's own output, for facts gathered at its end. */
const changeOutput = new WeakMap<Facts, HostRaw>();

export async function gatherFacts(conn: SshConnection, timeoutMs?: number): Promise<Facts> {
  const r = await conn.exec(FACTS_SCRIPT, { timeoutMs });
  try {
    const facts = parseFacts(r.stdout);
    factsHash.set(facts, hashOfFacts(r.stdout));
    factsText.set(facts, r.stdout);
    return facts;
  } catch (e) {
    throw new HostError('command', `gathering facts failed: ${(e as Error).message}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-2).join(' ')}` : ''}`, {
      exitCode: r.code,
      stderr: r.stderr,
      facts: r.stdout,
    });
  }
}

/**
 * A robot's details: what its facts show (each fact's own `show`, src/facts), then what compliance judged
 * of them (the uplink, the rule, persistence, the managers beside fleetmasq's hooks).
 */
export function describe(facts: Facts, c?: Compliance): HostDetails {
  // The iptables backend the facts show, unless the rule is fleetmasq's own nftables table.
  const { backend, ...shown } = factDetails(facts);
  return {
    interface: c?.iface,
    ...(c && (c.iface?.includes(',') || c.iface?.includes('+')) ? { matched: c.matched } : {}),
    backend: c?.ruleBackend === 'nft' ? 'nftables' : backend,
    persistence: c?.method,
    ...shown,
    ruleCount: c?.ruleCount,
    duplicates: c?.duplicates,
    persistenceInstalled: c?.persistenceInstalled,
    firedThisBoot: c?.firedThisBoot,
    ...(c?.root ? { root: c.root.kind } : {}),
    managers: c?.managers ?? managerReports(facts),
    checkedAt: new Date().toISOString(),
  };
}

/** A compliance reason as every output carries it: its code and data, and its words. */
export function typed(r: Reason): ReasonItem {
  return { ...r, text: reasonText(r) };
}

export function lockSpec(l: NonNullable<TaskOptions['lock']>, holdMs = 120_000, until: LockSpec['until'] = 'keep'): LockSpec {
  // A holder that died frees the robot after the longest its command could have run, and a minute more
  // (an `exit` lock at once: its script is gone).
  return { runId: l.runId, holder: l.holder, ttlS: Math.ceil(holdMs / 1000) + 60, until };
}

/** A change script met another live run's lock (exit 75 and `@@FM locked <holder>`). */
class LockHeld extends Error {
  constructor(readonly info: LockInfo) {
    super(lockMessage(info));
  }
  get holder(): string {
    return this.info.holder;
  }
}

/** The robot changed between the facts a plan was made from and the moment its change held the lock. */
class StaleFacts extends Error {}

/** --wait-lock: the change tried again every 3 s while another run holds the lock. */
const LOCK_POLL: Backoff = { firstMs: 3000, factor: 1, maxMs: 3000 };

/** Throws LockHeld when a command's result says another run holds the robot's lock. */
export function throwIfLocked(r: ExecResult): void {
  const info = r.code === 75 ? lockInfo(r.stdout) : undefined;
  if (info !== undefined) throw new LockHeld(info);
}

/**
 * Runs one attempt at a change (facts → plan → the change script that takes the lock). Held by another
 * live run: a `locked` failure naming the holder, or, with --wait-lock, the attempt again every few
 * seconds until that time has passed — from fresh facts (`again`), since the other run changed the robot.
 */
export async function withLockWait<T>(ctx: HostContext, o: TaskOptions, attempt: (again: boolean) => Promise<T>): Promise<T> {
  // Another run changed the robot after our facts were read: plan again at once (a few times).
  const fresh = (lockTry: number) =>
    retry((n) => attempt(lockTry > 0 || n > 0), {
      retries: 5,
      delay: () => 0,
      retryOnError: (e) => e instanceof StaleFacts,
      onWait: () => ctx.step('the robot changed meanwhile: planning again'),
    });
  try {
    return await retry(fresh, {
      deadlineAt: Date.now() + (o.lock?.waitMs ?? 0),
      delay: LOCK_POLL,
      retryOnError: (e) => e instanceof LockHeld,
      signal: ctx.signal,
      onWait: ({ outcome }) => ctx.step(`waiting for the lock held by ${(outcome as { error: LockHeld }).error.holder}`),
    });
  } catch (e) {
    if (e instanceof StaleFacts) throw new HostError('locked', 'the robot kept changing under other runs between reading it and changing it: nothing changed');
    if (e instanceof LockHeld) throw new HostError('locked', `${e.message}${o.lock?.waitMs ? ' (waited in vain)' : ' (--wait-lock D waits for it)'}`);
    throw e;
  }
}

/** Runs a plan's script (if any) and returns the facts gathered right after it, in the same round trip. */
export async function execute(ctx: HostContext, conn: SshConnection, plan: Plan, o: TaskOptions, from: Facts): Promise<Facts | undefined> {
  if (!plan.steps.length) return undefined;
  ctx.step(`changing: ${plan.steps.map((s) => s.name).join(', ')}`);
  const script = changeScript(plan.steps, {
    // Let go however the script ends (a failed step, a signal): a trap in the script (until: 'exit').
    ...(o.lock ? { lock: lockSpec(o.lock, o.commandTimeoutMs, 'exit') } : {}),
    factsHash: factsHash.get(from),
    ...(o.audit ? { audit: { changes: plan.changes, ...o.audit } } : {}),
  });
  const r = await conn.exec(script, { timeoutMs: o.commandTimeoutMs });
  throwIfLocked(r);
  if (r.code === 76 && /^@@FM stale$/m.test(r.stdout)) throw new StaleFacts();
  const run = parseRun(r.stdout);
  if (r.code !== 0 || !run.done) {
    throw new HostError('command', `step '${run.lastStep ?? 'start'}' failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ') || 'no error output'}`, {
      exitCode: r.code,
      stdout: r.stdout,
      stderr: r.stderr,
    });
  }
  const after = parseFacts(run.after);
  factsText.set(after, run.after);
  changeOutput.set(after, { stdout: r.stdout, stderr: r.stderr, exitCode: r.code });
  return after;
}

/** A change that ran but left the robot other than expected: what its script said, and the facts after it. */
export function rawAfterChange(after: Facts): HostRaw {
  return { ...changeOutput.get(after), facts: factsText.get(after) };
}

export function planned(plan: Plan, out: HostOutcome): void {
  out.changes.push(...plan.changes);
  out.diffs.push(...plan.diffs.filter(Boolean));
  out.warnings.push(...plan.warnings);
}

/** Every task starts the same way: the robot's connection, then its facts in one command. */
export async function begin(ctx: HostContext, o: TaskOptions) {
  const settings = settingsFor(ctx.vars, o);
  ctx.step('connecting');
  const conn = await ctx.conn();
  ctx.step('gathering facts');
  const facts = await gatherFacts(conn, o.commandTimeoutMs);
  if (facts.uid !== 0) {
    const t = conn.target;
    throw new HostError('become', `connected as ${t.user} (uid ${facts.uid}) without root: set ansible_become: true for this robot (sudo)`);
  }
  return { out: emptyOutcome(), settings, conn, facts };
}

export type PlanFn = (facts: Facts, s: MasqSettings) => Plan;

/**
 * A change from facts: connect and read them once, then attempt the change (withLockWait); an attempt
 * made again after another run held or changed the robot reads the facts afresh.
 */
export async function fromFreshFacts(
  ctx: HostContext,
  o: TaskOptions,
  attempt: (facts: Facts, begun: Awaited<ReturnType<typeof begin>>) => Promise<HostOutcome>,
): Promise<HostOutcome> {
  const first = await begin(ctx, o);
  return withLockWait(ctx, o, async (again) => attempt(again ? await gatherFacts(first.conn, o.commandTimeoutMs) : first.facts, first));
}

/** What was true of the robot before a reboot, for the story told after it. */
export interface BeforeReboot {
  compliant: boolean;
  ruleCount: number;
}

export function judge(facts: Facts, settings: MasqSettings, out: HostOutcome, requireFired: boolean, before?: BeforeReboot): HostOutcome {
  const c = checkCompliance(facts, settings);
  out.details = { ...out.details, ...describe(facts, c) };
  const survived = !(before && before.compliant && c.ruleCount === 0 && before.ruleCount > 0);
  // After a reboot, a rule that was live before and is gone now "did not survive"; said in its place.
  out.reasons.push(
    ...c.reasons.map((r) =>
      r.code === 'rule-missing' && !survived
        ? reason('rule-lost-at-reboot', `the rule did not survive the reboot: it is not live on ${r.iface} after boot ${facts.bootId}`, { iface: r.iface, bootId: facts.bootId })
        : typed(r),
    ),
  );
  out.warnings.push(...c.notes);
  // Forced reboot of a robot that was not compliant: nothing "did not survive".
  if (before && !c.compliant && !before.compliant) out.reasons.unshift(reason('still-noncompliant-after-forced-reboot', `not compliant before the reboot (forced) and still not after boot ${facts.bootId}`, { bootId: facts.bootId }));
  let compliant = c.compliant;
  // Persistence managed elsewhere writes no boot marker: after a reboot, the live rule is the proof.
  if (requireFired && !c.firedThisBoot && c.method !== 'external') {
    compliant = false;
    out.reasons.push(
      reason(
        'not-fired',
        facts.marker
          ? `persistence did not fire at this boot (its last marker is from boot ${facts.marker.bootId})`
          : 'persistence did not fire at this boot (no boot marker)',
        facts.marker ? { markerBootId: facts.marker.bootId } : {},
      ),
    );
  }
  out.compliant = compliant;
  if (!compliant) out.status = 'failed';
  if (!compliant && factsText.has(facts)) out.raw = { ...out.raw, facts: factsText.get(facts) };
  return out;
}
