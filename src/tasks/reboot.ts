/**
 * reboot: read the boot id, start the reboot, wait for the link to drop, poll until a new well-formed
 * boot id answers, then verify that persistence fired at this boot.
 */
import { HostError } from '../errors.js';
import { checkCompliance, type Compliance } from '../modules/compliance.js';
import { bootIdSh, COMMAND_RULE, commandWords, rebootScript, wellFormedBootId } from '../remote/reboot.js';
import type { Vars } from '../inventory/inventory.js';
import type { SshConnection } from '../transport/ssh.js';
import type { HostContext, HostTask } from '../runner/runner.js';
import { emptyOutcome, reason, type HostOutcome } from '../runner/types.js';
import { retry } from '../util/retry.js';
import { type TaskOptions, describe, gatherFacts, judge, lockSpec, settingsFor, throwIfLocked, typed, withLockWait } from './session.js';

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
 * reboot, as Ansible's reboot action does it, in named steps: read the boot id and compliance and start
 * the reboot so the command returns cleanly (under the robot's lock), wait for the connection to drop,
 * reconnect with backoff (host key verified each time) until a different, well-formed boot id answers,
 * then verify compliance including that persistence fired at this boot.
 */
export function rebootTask(o: RebootOptions): HostTask {
  return async (ctx) => {
    ctx.step('connecting');
    const conn = await ctx.conn();
    const settings = settingsFor(ctx.vars, o);
    const own = rebootCommands(ctx.vars, o);
    // The boot id and compliance are read again after waiting for another run's lock: it changed the robot.
    const started = await withLockWait(ctx, o, () => startReboot(ctx, conn, o, settings, own));
    if ('done' in started) return started.done;
    const { out, pre, t0, oldId } = started;
    out.status = 'changed';
    out.changes.push(`rebooted (boot ${oldId})`);
    const deadline = t0 + o.rebootTimeoutMs;
    ctx.step('waiting for the robot to go down');
    let downAt = await waitForLinkDown(conn, deadline);
    ctx.reconnect();
    ctx.step('waiting for the new boot');
    const { bootId: after, lastError } = await pollNewBoot(ctx, oldId, t0, deadline, () => (downAt ??= Date.now()), own.bootId);
    if (!after) {
      throw new HostError('reboot-timeout', `did not come back with a new boot_id within ${Math.round(o.rebootTimeoutMs / 1000)} s (last: ${lastError || 'no answer'})`);
    }
    recordTimes(out, oldId, after, t0, downAt);
    if (o.verify === false) {
      out.details.bootId = after;
      return out;
    }
    ctx.step('verifying');
    const facts = await gatherFacts(await ctx.conn(), o.commandTimeoutMs);
    return judge(facts, settings, out, true, { compliant: pre.compliant, ruleCount: pre.ruleCount });
  };
}

/** The reboot started (with what was read before it), or the robot's outcome when it is not rebooted. */
type Started = { done: HostOutcome } | { out: HostOutcome; pre: Compliance; t0: number; oldId: string };

/**
 * Under the robot's lock: reads the facts and compliance, skips a robot that is not compliant (rebooting
 * proves nothing there and may lose its live rule) unless forced, stops at that in check mode, reads the
 * boot id (the operator's command, when given, tells the boots apart instead of the kernel's), then starts
 * the reboot: scheduled 1 s ahead and detached, so the SSH command returns before the link goes down. The
 * lock is held until the robot goes down; a reboot that could not be started lets go of it at once.
 */
async function startReboot(ctx: HostContext, conn: SshConnection, o: RebootOptions, settings: ReturnType<typeof settingsFor>, own: ReturnType<typeof rebootCommands>): Promise<Started> {
  const out = emptyOutcome();
  ctx.step('reading boot_id and compliance');
  const before = await gatherFacts(conn, o.commandTimeoutMs);
  const pre = checkCompliance(before, settings);
  out.details = describe(before, pre);
  if (!pre.compliant && !o.force) {
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
  const oldId = own.bootId ? await customBootId(conn, own.bootId, o.commandTimeoutMs) : before.bootId;
  ctx.step('rebooting');
  const t0 = Date.now();
  const r = await conn.exec(rebootScript(before.systemd, own.reboot, o.lock ? lockSpec(o.lock, 120_000) : undefined), { timeoutMs: 30_000 });
  throwIfLocked(r);
  if (r.code !== 0) throw new HostError('command', `could not start the reboot: ${r.stderr.trim() || `exit ${r.code}`}`);
  return { out, pre, t0, oldId };
}

/** Waits for the link to drop (sshd going away, or failed keepalives), at most 15 s: returns when it dropped, if it did. */
async function waitForLinkDown(conn: SshConnection, deadline: number): Promise<number | undefined> {
  let downAt: number | undefined;
  let giveUp: NodeJS.Timeout | undefined;
  await Promise.race([
    conn.closedPromise.then(() => (downAt = Date.now())),
    new Promise<void>((r) => (giveUp = setTimeout(r, Math.min(15_000, Math.max(0, deadline - Date.now()))))),
  ]);
  clearTimeout(giveUp);
  return downAt;
}

/** The reboot's times in the outcome (down after, up after, total) and its change line with both boot ids. */
function recordTimes(out: HostOutcome, oldId: string, newId: string, t0: number, downAt: number | undefined): void {
  const upAt = Date.now();
  out.details.previousBootId = oldId;
  out.details.downMs = downAt ? downAt - t0 : null;
  out.details.upMs = downAt ? upAt - downAt : null;
  out.details.rebootMs = upAt - t0;
  out.changes[out.changes.length - 1] = `rebooted: boot ${oldId.slice(0, 8)}… -> ${newId.slice(0, 8)}…, back after ${((upAt - t0) / 1000).toFixed(1)} s`;
}

/** What the probes of one wait for a new boot share. */
interface BootWatch {
  readonly oldBootId: string;
  /** The operator's boot id command (default: the kernel's boot_id). */
  readonly bootIdCommand?: string[];
  readonly deadline: number;
  readonly sawDown: () => void;
  /** Cancels probes still connecting when the wait ends, so nothing lingers. */
  readonly cancel: AbortController;
  /** Ends the wait between probes at once: a winner, a fatal answer, or the operator abandoning the wait. */
  readonly woken: AbortController;
  inFlight: number;
  winner?: string;
  fatal?: HostError;
  lastError: string;
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
  bootIdCommand?: string[],
): Promise<{ bootId?: string; lastError: string }> {
  const w: BootWatch = { oldBootId, bootIdCommand, deadline, sawDown, cancel: new AbortController(), woken: new AbortController(), inFlight: 0, lastError: '' };
  const onAbandon = () => w.woken.abort();
  ctx.abandon.addEventListener('abort', onAbandon);
  if (ctx.abandon.aborted) w.woken.abort();
  // A probe every second during the first minute after the reboot started, then each wait 1.5× the last, up to 10 s.
  let delay = 1000;
  const schedule = () => (delay = Date.now() - t0 > 60_000 ? Math.min(delay * 1.5, 10_000) : delay);
  await retry(
    async () => {
      if (w.inFlight < 3 && !w.woken.signal.aborted && Date.now() < deadline) void probeBoot(ctx, w);
    },
    { deadlineAt: deadline, delay: schedule, retryOnValue: () => !w.winner && !w.fatal, signal: w.woken.signal },
  );
  ctx.abandon.removeEventListener('abort', onAbandon);
  w.cancel.abort();
  if (w.fatal) throw w.fatal;
  if (ctx.abandon.aborted && !w.winner) throw new HostError('interrupted', 'abandoned while waiting for the robot to come back');
  return { bootId: w.winner, lastError: w.lastError };
}

/** One probe: connect, read the boot id; the first new, well-formed one wins and becomes the robot's connection. */
async function probeBoot(ctx: HostContext, w: BootWatch): Promise<void> {
  w.inFlight++;
  let c: SshConnection | undefined;
  try {
    c = await ctx.probe(Math.min(10_000, Math.max(1000, w.deadline - Date.now())), w.cancel.signal);
    // The operator's command runs as its robot's commands do (with sudo when it becomes); the kernel's boot_id needs no root.
    const res = await c.exec(bootIdSh(w.bootIdCommand), { timeoutMs: 10_000, ...(w.bootIdCommand ? {} : { become: false }) });
    const id = res.stdout.trim();
    if (res.code === 0 && wellFormedBootId(id, !!w.bootIdCommand) && id !== w.oldBootId) {
      if (!w.winner) {
        w.winner = id;
        ctx.adopt(c);
        c = undefined;
        w.woken.abort();
      }
    } else w.lastError = id === w.oldBootId ? 'still the old boot' : `unexpected boot_id output '${id.slice(0, 60)}'`;
  } catch (e) {
    if (w.cancel.signal.aborted) return;
    if (e instanceof HostError && (e.kind === 'hostkey' || e.kind === 'auth')) {
      w.fatal = e;
      w.woken.abort();
    }
    w.sawDown();
    w.lastError = (e as Error).message;
  } finally {
    c?.dispose();
    w.inFlight--;
  }
}
