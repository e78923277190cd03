/**
 * What fleetmasq does on one robot, step by step: gather facts (one command), plan (pure), apply (one
 * script, which also re-gathers the facts so the result is verified in the same round trip).
 */
import { createHash } from 'node:crypto';
import { HostError } from '../errors.js';
import { FACTS_SCRIPT, parseFacts, type Facts } from '../facts/facts.js';
import { checkCompliance, managerReports, reasonText, type Compliance, type MasqSettings, type Reason } from '../modules/compliance.js';
import { planApply, planPersist, planRemove, planRule, type Plan } from '../modules/plan.js';
import { BOOT_ID_PATH, BOOT_ID_RE } from '../remote/paths.js';
import { ENV_SH, lockedBy, lockSh, parseRun, renderScript, shQuote, unlockSh, type LockSpec } from '../remote/script.js';
import { DIAGNOSE_PY } from '../remote/diagnose.js';
import { diagnose, parseRobotResult, VERDICT_TEXT } from '../diagnose/verdict.js';
import { chooseInterface, ifaceList } from '../modules/rule.js';
import { auditLogSh } from '../records/audit.js';
import type { Vars } from '../inventory/inventory.js';
import { interfaceSpec } from '../inventory/vars.js';
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

/** Ansible's booleans: true, yes, on (any case). */
function truthy(v: unknown): boolean {
  return v === true || (typeof v === 'string' && ['true', 'yes', 'on'].includes(v.toLowerCase()));
}

export function settingsFor(vars: Vars, o: TaskOptions): MasqSettings {
  return {
    interface: o.interface ?? interfaceSpec(vars.masquerade_interface),
    persistence: (o.persistence ?? vars.masquerade_persistence ?? 'auto') as MasqSettings['persistence'],
    allowAbsentInterface: o.allowAbsentInterface || truthy(vars.masquerade_allow_absent_interface),
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
    backend: facts.backend,
    persistence: c?.method,
    bootId: facts.bootId,
    systemd: facts.systemd,
    ruleCount: c?.ruleCount,
    duplicates: c?.duplicates,
    persistenceInstalled: c?.persistenceInstalled,
    firedThisBoot: c?.firedThisBoot,
    managers: c?.managers ?? managerReports(facts),
    checkedAt: new Date().toISOString(),
  };
}

/** A compliance reason as every output carries it: its code and data, and its words. */
function typed(r: Reason): ReasonItem {
  return { ...r, text: reasonText(r) };
}

function lockSpec(l: NonNullable<TaskOptions['lock']>, holdMs = 120_000): LockSpec {
  // A holder that died frees the robot after the longest its command could have run, and a minute more.
  return { runId: l.runId, holder: l.holder, ttlS: Math.ceil(holdMs / 1000) + 60 };
}

/** A change script met another live run's lock (exit 75 and `@@FM locked <holder>`). */
class LockHeld extends Error {
  constructor(readonly holder: string) {
    super(`locked by ${holder}`);
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
  const holder = r.code === 75 ? lockedBy(r.stdout) : undefined;
  if (holder !== undefined) throw new LockHeld(holder);
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
        throw new HostError('locked', `locked by ${e.holder}: another run is changing this robot${o.lock?.waitMs ? ' (waited in vain)' : ' (--wait-lock D waits for it)'}`);
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
    ...(o.lock ? [{ name: 'lock', sh: lockSh(lockSpec(o.lock, o.commandTimeoutMs)) }] : []),
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
    // The boot id and compliance are read again after waiting for another run's lock: it changed the robot.
    type Started = { done: HostOutcome } | { out: HostOutcome; before: Facts; pre: Compliance; t0: number };
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
      ctx.step('rebooting');
      const t0 = Date.now();
      // Scheduled 1 s ahead, detached: the SSH command returns before the link goes down.
      const cmd = before.systemd
        ? 'systemd-run --quiet --on-active=1 --timer-property=AccuracySec=100ms /bin/systemctl reboot'
        : 'nohup sh -c "sleep 1; reboot" >/dev/null 2>&1 &';
      // The lock is held until the robot goes down (it lives in /run, which the boot clears).
      const lock = o.lock ? `${lockSh(lockSpec(o.lock, 120_000))}\n` : '';
      const r = await conn.exec(`set -e\n${lock}${cmd}`, { timeoutMs: 30_000 });
      throwIfLocked(r);
      if (r.code !== 0) throw new HostError('command', `could not start the reboot: ${r.stderr.trim() || `exit ${r.code}`}`);
      return { out, before, pre, t0 };
    });
    if ('done' in started) return started.done;
    const { out, before, pre, t0 } = started;
    out.status = 'changed';
    out.changes.push(`rebooted (boot ${before.bootId})`);
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
    const { bootId: after, lastError } = await pollNewBoot(ctx, before.bootId, t0, deadline, () => (downAt ??= Date.now()));
    if (!after) {
      throw new HostError('reboot-timeout', `did not come back with a new boot_id within ${Math.round(o.rebootTimeoutMs / 1000)} s (last: ${lastError || 'no answer'})`);
    }
    const upAt = Date.now();
    out.details.previousBootId = before.bootId;
    out.details.downMs = downAt ? downAt - t0 : null;
    out.details.upMs = downAt ? upAt - downAt : null;
    out.details.rebootMs = upAt - t0;
    out.changes[out.changes.length - 1] = `rebooted: boot ${before.bootId.slice(0, 8)}… -> ${after.slice(0, 8)}…, back after ${((upAt - t0) / 1000).toFixed(1)} s`;
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
      const res = await c.exec(`cat ${BOOT_ID_PATH}`, { timeoutMs: 10_000, become: false });
      const id = res.stdout.trim();
      if (res.code === 0 && BOOT_ID_RE.test(id) && id !== oldBootId) {
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
    if (o.ab && facts.rulesError) throw new HostError('config', `iptables does not work here (${facts.rulesError}): --ab will not touch a robot it could not restore`);
    const timeout = 1.0;
    const perAttempt = 2 * timeout + 4 * 0.5 + 0.3 + 0.2;
    const total = (o.ab ? o.ab.groups * o.ab.per : o.attempts) * perAttempt + 10;
    const params = {
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
      ...(o.ab ? { ab: o.ab, restoreAfter: Math.ceil(total * 2 + 60) } : {}),
    };
    const lock = o.ab && o.lock ? lockSh(lockSpec(o.lock, total * 1000)) : '';
    const unlock = o.ab && o.lock ? unlockSh(o.lock.runId) : '';
    const script = `${ENV_SH}
${lock}
if ! command -v python3 >/dev/null 2>&1; then echo '@@FMDIAG {"v":1,"nopython":true}'; ${unlock ? `${unlock}; ` : ''}exit 0; fi
python3 - ${shQuote(JSON.stringify(params))} <<'FMPY'
${DIAGNOSE_PY}
FMPY
${unlock}`;
    ctx.step(o.ab ? `A/B: ${o.ab.groups} groups of ${o.ab.per} attempts` : `${o.attempts} connection attempts`);
    const r = await conn.exec(script, { timeoutMs: Math.max(o.commandTimeoutMs ?? 0, total * 1000 + 30_000) });
    const holder = r.code === 75 ? lockedBy(r.stdout) : undefined;
    if (holder !== undefined) throw new HostError('locked', `locked by ${holder}: another run is changing this robot`);
    const res = parseRobotResult(r.stdout);
    if (!res) throw new HostError('command', `the diagnose program gave no result (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ') || 'no error output'}`);
    if (res.nopython) {
      out.status = 'skipped';
      out.reasons.push(reason('needs-python3', 'cannot diagnose: needs python3'));
      return out;
    }
    if (res.error) throw new HostError('config', res.error);
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
