/** Runs a playbook: each play over its robots in batches, each robot through the play's tasks in order. */
import { ConfigError, HostError } from '../errors.js';
import { hostVars, type Inventory, type Vars } from '../inventory/inventory.js';
import { selectHosts } from '../inventory/patterns.js';
import type { RunRecorder } from '../store/store.js';
import { PERSISTENCE_MODES } from '../inventory/vars.js';
import { specError } from '../modules/rule.js';
import { interfaceSpec } from '../inventory/vars.js';
import { runFleet, type ConnectionPool, type HostContext, type HostTask } from '../runner/runner.js';
import { masqueradeTask, persistTask } from '../tasks/apply.js';
import { checkTask } from '../tasks/check.js';
import { rebootTask } from '../tasks/reboot.js';
import { removeTask } from '../tasks/remove.js';
import type { TaskOptions } from '../tasks/session.js';
import { emptyOutcome, notStartedResult, reason, type HostOutcome, type HostResult, type RunEvent } from '../runner/types.js';
import { templateArgs, type Play, type Task } from './playbook.js';
import { COMMAND_RULE, commandWords } from '../remote/reboot.js';

/** Options from the command line: they override every play's and task's own. */
export interface PlayOverrides {
  rebootTimeoutMs?: number;
  force?: boolean;
}

const TIMEOUT_RE = /^[0-9]{1,5}$/;

/** A task of a play, resolved for one robot: its arguments templated from the robot's vars and validated. */
interface ResolvedTask {
  task: Task;
  run: HostTask;
  /** reboot `when: needed`: only if something changed earlier in the play or persistence has not fired at this boot. */
  onlyIfNeeded: boolean;
}

/** A task's argument that is wrong after templating: its message already names the task. */
class TaskArgError extends ConfigError {}

/** Builds a task for one robot; an argument that is wrong after templating is a ConfigError (before any contact). */
function moduleTask(task: Task, args: Record<string, unknown>, base: TaskOptions, o: PlayOverrides): ResolvedTask {
  const bad = (what: string, v: unknown, want: string) => new TaskArgError(`task '${task.name}': invalid ${what} ${JSON.stringify(v)} (${want})`);
  const ifaceArg = args.interface;
  const spec = Array.isArray(ifaceArg) ? interfaceSpec(ifaceArg) : ifaceArg;
  if (spec !== undefined && (typeof spec !== 'string' || (spec !== 'auto' && specError(spec)))) throw bad('interface', ifaceArg, 'an interface name, a list of them, or auto');
  const opts: TaskOptions = { ...base, ...(spec !== undefined ? { interface: spec as string } : {}) };
  const plain = (run: HostTask): ResolvedTask => ({ task, run, onlyIfNeeded: false });
  switch (task.module) {
    case 'masquerade':
      return plain(masqueradeTask(opts));
    case 'persist': {
      const m = args.method;
      if (m !== undefined && !(typeof m === 'string' && (PERSISTENCE_MODES as readonly string[]).includes(m))) throw bad('method', m, PERSISTENCE_MODES.join(', '));
      return plain(persistTask({ ...opts, ...(m ? { persistence: m as TaskOptions['persistence'] } : {}) }));
    }
    case 'reboot': {
      const t = args.timeout;
      if (t !== undefined && !((typeof t === 'number' || (typeof t === 'string' && TIMEOUT_RE.test(t))) && Number.isInteger(Number(t)) && Number(t) >= 1 && Number(t) <= 86400))
        throw bad('reboot timeout', t, 'whole seconds from 1 to 86400');
      const rebootTimeoutMs = o.rebootTimeoutMs ?? (t !== undefined ? Number(t) * 1000 : 600_000);
      // After templating, each command must still be a plain command line.
      for (const k of ['reboot_command', 'boot_time_command'] as const)
        if (args[k] !== undefined && !commandWords(args[k])) throw bad(k, args[k], COMMAND_RULE);
      const run = rebootTask({
        ...opts,
        rebootTimeoutMs,
        verify: args.verify as boolean | undefined,
        force: o.force || args.force === true,
        ...(args.reboot_command !== undefined ? { rebootCommand: String(args.reboot_command) } : {}),
        ...(args.boot_time_command !== undefined ? { bootIdCommand: String(args.boot_time_command) } : {}),
      });
      return { task, run, onlyIfNeeded: args.when === 'needed' };
    }
    case 'verify':
      return plain(checkTask({ ...opts, requireFired: args.require_fired !== false }));
    case 'check':
      return plain(checkTask(opts));
    case 'remove':
      return plain(removeTask(opts));
  }
}

/** fleetmasq's own vars default to auto, as documented; play vars over inventory vars. */
function playVars(play: Play, hostVars: Vars): Vars {
  return { masquerade_interface: 'auto', masquerade_persistence: 'auto', ...hostVars, ...play.vars };
}

/** Every task of a play for one robot; any error names the play, the task and the robot. */
function resolveTasks(play: Play, host: string, vars: Vars, base: TaskOptions, o: PlayOverrides): ResolvedTask[] {
  return play.tasks.map((task) => {
    try {
      return moduleTask(task, templateArgs(task.args, vars), base, o);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`play '${play.name}', robot '${host}': ${e instanceof TaskArgError ? '' : `task '${task.name}': `}${e.message}`);
      throw e;
    }
  });
}

function merge(acc: HostOutcome, out: HostOutcome, task: Task): void {
  acc.changes.push(...out.changes.map((c) => `${task.name}: ${c}`));
  acc.reasons.push(...out.reasons);
  if (out.raw) acc.raw = out.raw;
  acc.warnings.push(...out.warnings);
  acc.diffs.push(...out.diffs);
  acc.details = { ...acc.details, ...out.details };
  // What the robot is after this task: a change not verified by it leaves the earlier verdict behind.
  if (out.status === 'changed') {
    acc.compliant = out.compliant;
    acc.removed = out.removed;
  } else {
    if (out.compliant !== undefined) acc.compliant = out.compliant;
    if (out.removed !== undefined) acc.removed = out.removed;
  }
  if (out.status === 'changed' && acc.status === 'ok') acc.status = 'changed';
  if (out.status === 'failed') acc.status = 'failed';
  // A task that would not act on this robot (a reboot of a robot that is not compliant) ends its play.
  if (out.status === 'skipped' && acc.status !== 'failed') acc.status = 'skipped';
}

/** Tasks that read (or prove) the robot's state: in a dry run, after a change they would not see, they are not run. */
const AFTER_CHANGE_IN_DRY_RUN: ReadonlySet<string> = new Set(['reboot', 'verify', 'check']);

function playTask(play: Play, resolved: Map<string, ResolvedTask[]>, checkMode: boolean): HostTask {
  return async (ctx: HostContext) => {
    const acc = emptyOutcome();
    const vars = playVars(play, ctx.vars);
    for (const { task, run, onlyIfNeeded } of resolved.get(ctx.host)!) {
      if (ctx.signal.aborted) {
        acc.reasons.push(reason('interrupted', `interrupted before task '${task.name}'`, { task: task.name }));
        break;
      }
      if (checkMode && acc.status === 'changed' && AFTER_CHANGE_IN_DRY_RUN.has(task.module)) {
        // The robot is not changed in a dry run, so rebooting or verifying it would judge the old state.
        acc.changes.push(`${task.name}: would run after the changes above (dry run: not done)`);
        continue;
      }
      if (onlyIfNeeded && acc.status !== 'changed' && acc.details.firedThisBoot === true) {
        // As Ansible's handlers: a robot whose persistence already fired at this boot and that nothing
        // changed needs no reboot to prove it.
        acc.details.rebootSkipped = 'not needed: nothing changed and persistence already fired at this boot';
        ctx.step(`${task.name}: not needed`);
        continue;
      }
      ctx.step(`task: ${task.name}`);
      try {
        const out = await run({ ...ctx, vars, step: (s) => ctx.step(`${task.name}: ${s}`) });
        merge(acc, out, task);
      } catch (e) {
        if (e instanceof HostError) throw new HostError(e.kind, `task '${task.name}': ${e.message}`, e.detail);
        throw e;
      }
      if (acc.status === 'failed') {
        acc.reasons.unshift(reason('task-failed', `task '${task.name}' failed`, { task: task.name }));
        break;
      }
      if (acc.status === 'skipped') break;
    }
    return acc;
  };
}

export interface PlayResult {
  name: string;
  hosts: string[];
  aborted?: string;
  results: HostResult[];
  record?: string;
}

export interface PlaybookRun {
  plays: PlayResult[];
  /** Why the playbook stopped early (a stop rule or an interrupt). */
  stopped?: string;
}

export async function runPlaybook(
  plays: Play[],
  opts: {
    inventory: Inventory;
    pool: ConnectionPool;
    limit?: string;
    forks: number;
    base: TaskOptions;
    /** --reboot-timeout: overrides every reboot task's own timeout. */
    rebootTimeoutMs?: number;
    signal: AbortSignal;
    abandon?: AbortSignal;
    onEvent: (e: RunEvent, play: Play) => void;
    onPlay?: (play: Play, hosts: string[]) => void | Promise<void>;
    /** Overrides every play's serial / max fail (flags). */
    serial?: Play['serial'];
    maxFailPercent?: number;
    /** The run's record in the store (one for every play). */
    record?: RunRecorder;
  },
): Promise<PlaybookRun> {
  // Everything is resolved before any robot is contacted: every play's hosts (a pattern that matches
  // nothing is an error) and every task's templated arguments for every robot.
  const overrides: PlayOverrides = { rebootTimeoutMs: opts.rebootTimeoutMs, force: opts.base.force };
  const targets = plays.map((p) => selectHosts(opts.inventory, p.hosts, opts.limit));
  const resolved = plays.map((p, i) => new Map(targets[i]!.map((h) => [h, resolveTasks(p, h, playVars(p, hostVars(opts.inventory, h)), opts.base, overrides)])));
  const failed = new Set<string>();
  // A robot's connection is kept for its later plays and closed after the last play it is in.
  const lastPlay = new Map<string, number>();
  targets.forEach((hosts, i) => hosts.forEach((h) => lastPlay.set(h, i)));
  const out: PlayResult[] = [];
  let stopped: string | undefined;
  for (let i = 0; i < plays.length; i++) {
    const play = plays[i]!;
    if (stopped || opts.signal.aborted) {
      // Robots of later plays that no play has touched: reported, never silently dropped.
      stopped ??= 'interrupted: later robots not started';
      const seen = new Set(out.flatMap((p) => p.results.map((r) => r.host)));
      const results = targets[i]!.filter((h) => !seen.has(h)).map((host) => notStartedResult(host, stopped!));
      out.push({ name: play.name, hosts: targets[i]!, results });
      continue;
    }
    await opts.onPlay?.(play, targets[i]!);
    const run = await runFleet(playTask(play, resolved[i]!, opts.base.checkMode ?? false), {
      command: 'play',
      hosts: targets[i]!,
      inventory: opts.inventory,
      pool: opts.pool,
      forks: opts.forks,
      serial: opts.serial?.length ? opts.serial : play.serial,
      maxFailPercent: opts.maxFailPercent ?? (play.anyErrorsFatal ? 0 : play.maxFailPercent),
      signal: opts.signal,
      abandon: opts.abandon,
      onEvent: (e) => opts.onEvent(e, play),
      skip: failed,
      release: (h) => lastPlay.get(h) === i,
      record: opts.record,
    });
    const results = targets[i]!.map((h) => run.results.get(h)!).filter(Boolean);
    for (const r of results) if (r.status === 'failed' || r.status === 'unreachable') failed.add(r.host);
    out.push({ name: play.name, hosts: targets[i]!, aborted: run.aborted, results, record: run.record });
    if (run.aborted) stopped = `play '${play.name}': ${run.aborted}`;
  }
  return { plays: out, stopped };
}

/** One result per robot across plays: the last play's result, failures win. */
export function combineResults(plays: PlayResult[]): HostResult[] {
  const by = new Map<string, HostResult>();
  for (const p of plays) {
    for (const r of p.results) {
      const prev = by.get(r.host);
      if (!prev) by.set(r.host, { ...r, changes: [...r.changes] });
      // A later play's skip says nothing new about a robot that already failed; any other skip (not
      // compliant before a reboot, never started after a stop) is what the robot's run came to.
      else if (!(r.status === 'skipped' && (prev.status === 'failed' || prev.status === 'unreachable'))) {
        by.set(r.host, {
          ...r,
          status: r.status === 'ok' && prev.status === 'changed' ? 'changed' : r.status,
          changes: [...prev.changes, ...r.changes],
          details: { ...prev.details, ...r.details },
        });
      }
    }
  }
  return [...by.values()];
}
