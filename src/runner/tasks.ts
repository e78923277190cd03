/**
 * What fleetmasq does on one robot, step by step: gather facts (one command), plan (pure), apply (one
 * script, which also re-gathers the facts so the result is verified in the same round trip).
 */
import { createHash } from 'node:crypto';
import { HostError } from '../errors.js';
import { FACTS_SCRIPT, parseFacts, type Facts } from '../facts/facts.js';
import { checkCompliance, managerReports, reasonText, type Compliance, type MasqSettings, type Reason } from '../modules/compliance.js';
import { planApply, planPersist, planRemove, planRule, type Plan } from '../modules/plan.js';
import { ENV_SH, lockedBy, lockInfo, lockMessage, lockSh, parseRun, renderScript, shQuote, unlockSh, type LockInfo, type LockSpec } from '../remote/script.js';
import { DIAGNOSE_PY } from '../remote/diagnose.js';
import { bootIdSh, COMMAND_RULE, commandWords, startRebootSh, wellFormedBootId } from '../remote/reboot.js';
import { diagnose, parseRobotResult, VERDICT_TEXT } from '../diagnose/verdict.js';
import { chooseInterface, ifaceList } from '../modules/rule.js';
import { auditLogSh } from '../records/audit.js';
import type { Vars } from '../inventory/inventory.js';
import { diagnoseScript, type DiagnoseParams } from '../remote/diagnose.js';
import { MalformedResult, type RobotResult } from '../diagnose/verdict.js';
import { IFACE_RE } from '../modules/rule.js';
import { interfaceSpec, truthy } from '../inventory/vars.js';
import type { ExecResult, SshConnection } from '../transport/ssh.js';
import type { HostContext, HostTask } from './runner.js';
import { emptyOutcome, reason, type HostOutcome, type HostRaw, type ReasonItem } from './types.js';

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

export function hashOfFacts(stdout: string): string {
  return createHash('sha256').update(stdout.split('\n').filter((l) => !l.startsWith('@now=')).join('\n')).digest('hex');
}

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

function describe(facts: Facts, c?: Compliance): Record<string, unknown> {
  return {
    interface: c?.iface,
    ...(c && (c.iface?.includes(',') || c.iface?.includes('+')) ? { matched: c.matched } : {}),
    backend: c?.ruleBackend === 'nft' ? 'nftables' : facts.backend,
    persistence: c?.method,
    bootId: facts.bootId,
    systemd: facts.systemd,
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
function typed(r: Reason): ReasonItem {
  return { ...r, text: reasonText(r) };
}

function lockSpec(l: NonNullable<TaskOptions['lock']>, holdMs = 120_000, until: LockSpec['until'] = 'keep'): LockSpec {
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

/**
 * Once a change holds the lock, the facts are read again on the robot and compared with those the plan
 * was made from; if another run changed the robot in between, the lock is let go and the change does
 * nothing (`@@FM stale`, exit 76): the controller plans again from fresh facts.
 */
export function freshFactsSh(hash: string, unlock: string): string {
  return `fm_h=$( { sh -s <<'FMFACTS'
${FACTS_SCRIPT}
FMFACTS
} 2>/dev/null | grep -v '^@now=' | sha256sum )
if [ "\${fm_h%% *}" != ${hash} ]; then ${unlock}; fm_say "@@FM stale"; exit 76; fi`;
}

/** Throws LockHeld when a command's result says another run holds the robot's lock. */
function throwIfLocked(r: ExecResult): void {
  const info = r.code === 75 ? lockInfo(r.stdout) : undefined;
  if (info !== undefined) throw new LockHeld(info);
}

/**
 * Runs one attempt at a change (facts → plan → the change script that takes the lock). Held by another
 * live run: a `locked` failure naming the holder, or, with --wait-lock, the attempt again every few
 * seconds until that time has passed — from fresh facts (`again`), since the other run changed the robot.
 */
async function withLockWait<T>(ctx: HostContext, o: TaskOptions, attempt: (again: boolean) => Promise<T>): Promise<T> {
  const until = Date.now() + (o.lock?.waitMs ?? 0);
  let stale = 0;
  for (let again = false; ; again = true) {
    try {
      return await attempt(again);
    } catch (e) {
      if (e instanceof StaleFacts) {
        // Another run changed the robot after our facts were read: plan again at once (a few times).
        if (++stale > 5) throw new HostError('locked', 'the robot kept changing under other runs between reading it and changing it: nothing changed');
        ctx.step('the robot changed meanwhile: planning again');
        continue;
      }
      if (!(e instanceof LockHeld)) throw e;
      if (Date.now() >= until || ctx.signal.aborted)
        throw new HostError('locked', `${e.message}${o.lock?.waitMs ? ' (waited in vain)' : ' (--wait-lock D waits for it)'}`);
      ctx.step(`waiting for the lock held by ${e.holder}`);
      await new Promise((res) => setTimeout(res, Math.min(3000, Math.max(0, until - Date.now()))));
    }
  }
}

/** Runs a plan's script (if any) and returns the facts gathered right after it, in the same round trip. */
async function execute(ctx: HostContext, conn: SshConnection, plan: Plan, o: TaskOptions, from: Facts): Promise<Facts | undefined> {
  if (!plan.steps.length) return undefined;
  ctx.step(`changing: ${plan.steps.map((s) => s.name).join(', ')}`);
  const hash = factsHash.get(from);
  const steps = [
    // Let go however the script ends (a failed step, a signal): a trap in the script (until: 'exit').
    ...(o.lock ? [{ name: 'lock', sh: lockSh(lockSpec(o.lock, o.commandTimeoutMs, 'exit')) }] : []),
    ...(o.lock && hash ? [{ name: 'fresh', sh: freshFactsSh(hash, unlockSh(o.lock.runId)) }] : []),
    ...plan.steps,
    ...(o.audit ? [{ name: 'audit', sh: auditLogSh(plan.changes, o.audit.by, o.audit.command) }] : []),
    ...(o.lock ? [{ name: 'unlock', sh: unlockSh(o.lock.runId) }] : []),
  ];
  const r = await conn.exec(renderScript(steps, FACTS_SCRIPT), { timeoutMs: o.commandTimeoutMs });
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
function rawAfterChange(after: Facts): HostRaw {
  return { ...changeOutput.get(after), facts: factsText.get(after) };
}

function planned(plan: Plan, out: HostOutcome): void {
  out.changes.push(...plan.changes);
  out.diffs.push(...plan.diffs.filter(Boolean));
  out.warnings.push(...plan.warnings);
}

/** Every task starts the same way: the robot's connection, then its facts in one command. */
async function begin(ctx: HostContext, o: TaskOptions) {
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

type PlanFn = (facts: Facts, s: MasqSettings) => Plan;

/**
 * A change from facts: connect and read them once, then attempt the change (withLockWait); an attempt
 * made again after another run held or changed the robot reads the facts afresh.
 */
async function fromFreshFacts(
  ctx: HostContext,
  o: TaskOptions,
  attempt: (facts: Facts, begun: Awaited<ReturnType<typeof begin>>) => Promise<HostOutcome>,
): Promise<HostOutcome> {
  const first = await begin(ctx, o);
  return withLockWait(ctx, o, async (again) => attempt(again ? await gatherFacts(first.conn, o.commandTimeoutMs) : first.facts, first));
}

/** apply / masquerade / persist: plan from facts, change, verify. */
function changeTask(kind: 'apply' | 'masquerade' | 'persist', o: TaskOptions): HostTask {
  const planFn: PlanFn = kind === 'apply' ? planApply : kind === 'masquerade' ? (f, s) => planRule(f, s) : (f, s) => planPersist(f, s);
  return (ctx) =>
    fromFreshFacts(ctx, o, async (facts, { settings, conn }) => {
      const out = emptyOutcome();
      const plan = planFn(facts, settings);
      if (plan.error) throw new HostError('config', plan.error);
      planned(plan, out);
      for (const w of plan.warnings) ctx.warn(w);
      if (!plan.changes.length) {
        const c = checkCompliance(facts, settings);
        out.details = describe(facts, c);
        if (kind === 'apply') out.compliant = c.compliant;
        return out;
      }
      out.status = 'changed';
      if (o.checkMode) {
        const c = checkCompliance(facts, settings);
        out.details = { ...describe(facts, c), checkMode: true };
        // What the robot is now (a dry run changes nothing): evidence for the fleet view.
        out.compliant = c.compliant;
        return out;
      }
      const after = (await execute(ctx, conn, plan, o, facts))!;
      const c = checkCompliance(after, settings);
      out.details = describe(after, c);
      // Verified in the same round trip as the change: the robot's state for the fleet view.
      if (kind === 'apply') out.compliant = c.compliant;
      // Verify what this task is responsible for.
      const ruleOk = c.rulesOk;
      const persistOk = c.persistenceInstalled && c.method === plan.method;
      if ((kind !== 'persist' && !ruleOk) || (kind !== 'masquerade' && !persistOk)) {
        out.status = 'failed';
        out.raw = rawAfterChange(after);
        out.reasons.push(...c.reasons.map(typed));
        if (!out.reasons.length) out.reasons.push(reason('not-as-expected', 'the robot is not in the expected state after the change'));
      }
      return out;
    });
}

export const applyTask = (o: TaskOptions) => changeTask('apply', o);
export const masqueradeTask = (o: TaskOptions) => changeTask('masquerade', o);
export const persistTask = (o: TaskOptions) => changeTask('persist', o);

/** check: compliance, read-only. `requireFired` (verify after a reboot) also demands the boot hook ran at this boot. */
export function checkTask(o: TaskOptions & { requireFired?: boolean }): HostTask {
  return async (ctx) => {
    const { out, settings, facts } = await begin(ctx, o);
    return judge(facts, settings, out, o.requireFired ?? false);
  };
}

/** What was true of the robot before a reboot, for the story told after it. */
interface BeforeReboot {
  compliant: boolean;
  ruleCount: number;
}

function judge(facts: Facts, settings: MasqSettings, out: HostOutcome, requireFired: boolean, before?: BeforeReboot): HostOutcome {
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

export function removeTask(o: TaskOptions): HostTask {
  return (ctx) =>
    fromFreshFacts(ctx, o, async (facts, { settings, conn }) => {
      const out = emptyOutcome();
      const plan = planRemove(facts, settings);
      // Nothing half-done: a robot whose files fleetmasq will not edit is left entirely as it is.
      if (plan.error) throw new HostError('config', `${plan.error}; nothing removed`);
      planned(plan, out);
      out.details = describe(facts);
      if (!plan.changes.length) {
        out.removed = true;
        return out;
      }
      out.status = 'changed';
      if (o.checkMode) {
        out.details.checkMode = true;
        out.compliant = checkCompliance(facts, settings).compliant;
        return out;
      }
      const after = (await execute(ctx, conn, plan, o, facts))!;
      const left = planRemove(after, settings);
      out.details = describe(after);
      if (left.changes.length) {
        out.status = 'failed';
        out.raw = rawAfterChange(after);
        out.compliant = checkCompliance(after, settings).compliant;
        out.reasons.push(reason('still-present', `still present after remove: ${left.changes.join('; ')}`, { left: left.changes }));
      } else out.removed = true;
      return out;
    });
}

export interface RebootOptions extends TaskOptions {
  rebootTimeoutMs: number;
  /** Reboot robots that are not compliant before the reboot too (default: they are skipped). */
  force?: boolean;
  /** Verify compliance (and that persistence fired at the new boot) once the robot is back. Default true. */
  verify?: boolean;
  /** The robot's own reboot command and boot id command (over masquerade_reboot_command / masquerade_boot_id_command). */
  rebootCommand?: string;
  bootIdCommand?: string;
}

/** A robot's own reboot and boot id commands (options over vars), as words; a value that is not a plain command line is a config error. */
function rebootCommands(vars: Vars, o: RebootOptions): { reboot?: string[]; bootId?: string[] } {
  const words = (v: unknown, name: string) => {
    if (v === undefined) return undefined;
    const w = commandWords(v);
    if (!w) throw new HostError('config', `${name} must be ${COMMAND_RULE}`);
    return w;
  };
  return {
    reboot: words(o.rebootCommand ?? vars.masquerade_reboot_command, 'masquerade_reboot_command'),
    bootId: words(o.bootIdCommand ?? vars.masquerade_boot_id_command, 'masquerade_boot_id_command'),
  };
}

/** The robot's boot id by the operator's command (one line), or why it is not one. */
async function customBootId(conn: SshConnection, words: string[], timeoutMs = 30_000): Promise<string> {
  const r = await conn.exec(bootIdSh(words), { timeoutMs });
  const id = r.stdout.trim();
  if (r.code !== 0 || !wellFormedBootId(id, true))
    throw new HostError('command', `masquerade_boot_id_command did not print a boot id (exit ${r.code}): ${JSON.stringify(id.slice(0, 60))}${r.stderr.trim() ? ` ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}`);
  return id;
}


/**
 * reboot: read boot_id, start the reboot so the command returns cleanly, wait for the connection to
 * drop, reconnect with backoff (host key verified each time) until a different, well-formed boot_id
 * answers, then verify compliance including that persistence fired at this boot.
 */
export function rebootTask(o: RebootOptions): HostTask {
  return async (ctx) => {
    ctx.step('connecting');
    const conn = await ctx.conn();
    const settings = settingsFor(ctx.vars, o);
    const own = rebootCommands(ctx.vars, o);
    // The boot id and compliance are read again after waiting for another run's lock: it changed the robot.
    type Started = { done: HostOutcome } | { out: HostOutcome; before: Facts; pre: Compliance; t0: number; oldId: string };
    const started = await withLockWait(ctx, o, async (): Promise<Started> => {
      const out = emptyOutcome();
      ctx.step('reading boot_id and compliance');
      const before = await gatherFacts(conn, o.commandTimeoutMs);
      const pre = checkCompliance(before, settings);
      out.details = describe(before, pre);
      if (!pre.compliant && !o.force) {
        // Rebooting proves nothing here and may lose the robot's live rule: apply first.
        out.status = 'skipped';
        out.compliant = false;
        out.reasons.push(reason('noncompliant-before-reboot', 'not compliant before the reboot: run apply first (or --force)'), ...pre.reasons.map(typed));
        out.warnings.push(...pre.notes);
        return { done: out };
      }
      if (o.checkMode) {
        out.status = 'changed';
        out.changes.push('reboot (check mode: not done)');
        return { done: judge(before, settings, out, false) };
      }
      // The operator's boot id command tells the boots apart instead of the kernel's boot_id.
      const oldId = own.bootId ? await customBootId(conn, own.bootId, o.commandTimeoutMs) : before.bootId;
      ctx.step('rebooting');
      const t0 = Date.now();
      // Scheduled 1 s ahead, detached: the SSH command returns before the link goes down.
      // PATH and working directory fixed as for every other root command (see ENV_SH).
      const cmd = `${ENV_SH}\n${startRebootSh(before.systemd, own.reboot)}`;
      // The lock is held until the robot goes down (it lives in /run, which the boot clears).
      // A reboot that could not be started lets go of it at once.
      const lock = o.lock ? `${lockSh(lockSpec(o.lock, 120_000))}\n` : '';
      const run = o.lock ? `{ ${cmd}\n} || { fm_rc=$?; ${unlockSh(o.lock.runId)}\nexit $fm_rc; }` : cmd;
      const r = await conn.exec(`set -e\n${lock}${run}`, { timeoutMs: 30_000 });
      throwIfLocked(r);
      if (r.code !== 0) throw new HostError('command', `could not start the reboot: ${r.stderr.trim() || `exit ${r.code}`}`);
      return { out, before, pre, t0, oldId };
    });
    if ('done' in started) return started.done;
    const { out, before, pre, t0, oldId } = started;
    out.status = 'changed';
    out.changes.push(`rebooted (boot ${oldId})`);
    const deadline = t0 + o.rebootTimeoutMs;
    ctx.step('waiting for the robot to go down');
    let downAt: number | undefined;
    // The link drops when sshd goes away (or keepalives fail); poll anyway after 15 s.
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([
      conn.closedPromise.then(() => (downAt = Date.now())),
      new Promise<void>((r) => (giveUp = setTimeout(r, Math.min(15_000, Math.max(0, deadline - Date.now()))))),
    ]);
    clearTimeout(giveUp);
    ctx.reconnect();
    ctx.step('waiting for the new boot');
    const { bootId: after, lastError } = await pollNewBoot(ctx, oldId, t0, deadline, () => (downAt ??= Date.now()), own.bootId);
    if (!after) {
      throw new HostError('reboot-timeout', `did not come back with a new boot_id within ${Math.round(o.rebootTimeoutMs / 1000)} s (last: ${lastError || 'no answer'})`);
    }
    const upAt = Date.now();
    out.details.previousBootId = oldId;
    out.details.downMs = downAt ? downAt - t0 : null;
    out.details.upMs = downAt ? upAt - downAt : null;
    out.details.rebootMs = upAt - t0;
    out.changes[out.changes.length - 1] = `rebooted: boot ${oldId.slice(0, 8)}… -> ${after.slice(0, 8)}…, back after ${((upAt - t0) / 1000).toFixed(1)} s`;
    if (o.verify === false) {
      out.details.bootId = after;
      return out;
    }
    ctx.step('verifying');
    const facts = await gatherFacts(await ctx.conn(), o.commandTimeoutMs);
    return judge(facts, settings, out, true, { compliant: pre.compliant, ruleCount: pre.ruleCount });
  };
}

/**
 * Polls for the new boot: a probe every second during the first minute (then backing off to 10 s), up
 * to 3 in flight, so a probe stuck on a robot that is still down never delays the next one. A probe must
 * pass host-key verification (a changed key ends the wait at once) and answer with a well-formed boot_id
 * different from the old one; the first that does becomes the robot's connection.
 */
async function pollNewBoot(
  ctx: HostContext,
  oldBootId: string,
  t0: number,
  deadline: number,
  sawDown: () => void,
  /** The operator's boot id command (default: the kernel's boot_id). */
  bootIdCommand?: string[],
): Promise<{ bootId?: string; lastError: string }> {
  let lastError = '';
  let inFlight = 0;
  let delay = 1000;
  // Probes still connecting when the wait ends are cancelled, so nothing lingers.
  const cancel = new AbortController();
  let fatal: HostError | undefined;
  let winner: string | undefined;
  let wake = () => {};
  const nap = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      wake = () => (clearTimeout(t), r());
    });
  const probe = async () => {
    inFlight++;
    let c: SshConnection | undefined;
    try {
      c = await ctx.probe(Math.min(10_000, Math.max(1000, deadline - Date.now())), cancel.signal);
      // The operator's command runs as its robot's commands do (with sudo when it becomes); the kernel's boot_id needs no root.
      const res = await c.exec(bootIdSh(bootIdCommand), { timeoutMs: 10_000, ...(bootIdCommand ? {} : { become: false }) });
      const id = res.stdout.trim();
      if (res.code === 0 && wellFormedBootId(id, !!bootIdCommand) && id !== oldBootId) {
        if (!winner) {
          winner = id;
          ctx.adopt(c);
          c = undefined;
          wake();
        }
      } else lastError = id === oldBootId ? 'still the old boot' : `unexpected boot_id output '${id.slice(0, 60)}'`;
    } catch (e) {
      if (cancel.signal.aborted) return;
      if (e instanceof HostError && (e.kind === 'hostkey' || e.kind === 'auth')) {
        fatal = e;
        wake();
      }
      sawDown();
      lastError = (e as Error).message;
    } finally {
      c?.dispose();
      inFlight--;
    }
  };
  const onAbandon = () => wake();
  ctx.abandon.addEventListener('abort', onAbandon);
  while (!winner && !fatal && !ctx.abandon.aborted && Date.now() < deadline) {
    if (inFlight < 3) void probe();
    await nap(Math.min(delay, Math.max(0, deadline - Date.now())));
    if (Date.now() - t0 > 60_000) delay = Math.min(delay * 1.5, 10_000);
  }
  ctx.abandon.removeEventListener('abort', onAbandon);
  cancel.abort();
  if (fatal) throw fatal;
  if (ctx.abandon.aborted && !winner) throw new HostError('interrupted', 'abandoned while waiting for the robot to come back');
  return { bootId: winner, lastError };
}

export interface DiagnoseOptions extends TaskOptions {
  /** --stun HOST:PORT (else the inventory's masquerade_stun_server, else DEFAULT_STUN). */
  stun?: string;
  attempts: number;
  /** --ab: groups alternating masquerading off/on, `per` attempts each. */
  ab?: { groups: number; per: number };
  /** Seconds until the A/B restore timer fires (tests: FLEETMASQ_AB_RESTORE_AFTER); default twice the experiment's length and a minute. */
  abRestoreAfterS?: number;
}

/** A public STUN server, when neither --stun nor masquerade_stun_server names one. */
export const DEFAULT_STUN = 'stun.l.google.com:19302';

/**
 * diagnose: the robot program (src/remote/diagnose.ts) runs the attempts (and the leak test, and with
 * --ab the off/on groups under a robot-side restore timer, holding the robot's lock), in one command.
 */
export function diagnoseTask(o: DiagnoseOptions): HostTask {
  return async (ctx) => {
    const { out, settings, conn, facts } = await begin(ctx, o);
    const server = o.stun ?? (ctx.vars.masquerade_stun_server as string | undefined) ?? DEFAULT_STUN;
    const [host, port] = [server.slice(0, server.lastIndexOf(':')), server.slice(server.lastIndexOf(':') + 1)];
    // The uplink: a named interface as it is, else the default route's (also for a list or wildcard).
    const named = settings.interface !== 'auto' && !settings.interface.includes(',') && !settings.interface.includes('+');
    const choice = chooseInterface(facts, named ? settings.interface : 'auto');
    if ('error' in choice) throw new HostError('config', choice.error);
    const ifaces = settings.interface === 'auto' ? [choice.iface] : ifaceList(settings.interface);
    // Names reach the robot's shell (the restore script): only those fleetmasq accepts anywhere.
    const refused = [choice.iface, ...ifaces].find((i) => !IFACE_RE.test(i));
    if (refused !== undefined) throw new HostError('config', `interface name ${JSON.stringify(refused)} refused: nothing was run`);
    if (o.ab && facts.rulesError) throw new HostError('config', `iptables does not work here (${facts.rulesError}): --ab will not touch a robot it could not restore`);
    const timeout = 1.0;
    const perAttempt = 2 * timeout + 4 * 0.5 + 0.3 + 0.2;
    const total = (o.ab ? o.ab.groups * o.ab.per : o.attempts) * perAttempt + 10;
    const restoreAfter = o.ab ? (o.abRestoreAfterS ?? Math.ceil(total * 2 + 60)) : undefined;
    const params: DiagnoseParams = {
      uplink: choice.iface,
      ifaces,
      server: [host, port],
      attempts: o.attempts,
      timeout,
      candidateTimeout: 0.5,
      settle: 0.3,
      gap: 0.2,
      leak: true,
      systemd: facts.systemd,
      ...(o.ab ? { ab: o.ab, restoreAfter } : {}),
    };
    const script = diagnoseScript(params, { expectedS: total, ...(o.lock ? { lock: { runId: o.lock.runId, holder: o.lock.holder } } : {}), ...(o.audit ? { audit: o.audit } : {}) });
    ctx.step(o.ab ? `A/B: ${o.ab.groups} groups of ${o.ab.per} attempts` : `${o.attempts} connection attempts`);
    const r = await conn.exec(script, { timeoutMs: Math.max(o.commandTimeoutMs ?? 0, total * 1000 + 30_000) });
    const holder = r.code === 75 ? lockedBy(r.stdout) : undefined;
    if (holder !== undefined) throw new HostError('locked', `locked by ${holder}: another run is changing this robot`);
    let res: RobotResult | undefined;
    try {
      res = parseRobotResult(r.stdout);
    } catch (e) {
      if (e instanceof MalformedResult) throw new HostError('command', `the diagnose program's result is malformed: ${e.message}`);
      throw e;
    }
    if (!res) throw new HostError('command', `the diagnose program gave no result (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ') || 'no error output'}`);
    if (res.nopython) {
      out.status = 'skipped';
      out.reasons.push(reason('needs-python3', 'cannot diagnose: needs python3'));
      return out;
    }
    if (res.error) throw new HostError('config', res.error);
    if (res.crash) throw new HostError('command', `the diagnose program failed on the robot: ${res.crash}`);
    if (res.abCutShort) {
      out.status = 'failed';
      out.reasons.push(reason('ab-cut-short', `the A/B experiment's restore timer fired before it ended: it stopped after ${res.groups?.length ?? 0} group(s) and put the live rule back as it found it`, { groups: res.groups?.length ?? 0 }));
    }
    const c = checkCompliance(facts, settings);
    const d = diagnose(res, c.ruleCount > 0, server);
    out.details = { ...describe(facts, c), diagnosis: d };
    // Unprotected as measured, or not compliant by its facts: never compliant in the fleet view.
    out.compliant = c.compliant && d.verdict !== 'affected-unprotected' && d.verdict !== 'changes-despite-masquerading';
    if (d.ab && !d.ab.restored) {
      out.status = 'failed';
      out.reasons.push(reason('ab-not-restored', 'the A/B experiment did not leave the live rule as it found it: its restore timer puts it back'));
    }
    if (d.verdict === 'affected-unprotected') out.reasons.push(reason('affected-unprotected', VERDICT_TEXT[d.verdict]));
    return out;
  };
}
