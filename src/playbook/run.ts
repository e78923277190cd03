/** Runs a playbook: each play over its robots in batches, each robot through the play's tasks in order. */
import { ConfigError, HostError } from '../errors.js';
import type { Inventory } from '../inventory/inventory.js';
import { selectHosts } from '../inventory/patterns.js';
import { IFACE_RE } from '../modules/rule.js';
import { runFleet, type ConnectionPool, type HostContext, type HostTask } from '../runner/runner.js';
import { checkTask, masqueradeTask, persistTask, rebootTask, removeTask, type TaskOptions } from '../runner/tasks.js';
import { emptyOutcome, type HostOutcome, type HostResult, type RunEvent } from '../runner/types.js';
import { templateArgs, type Play, type Task } from './playbook.js';

function moduleTask(task: Task, args: Record<string, unknown>, base: TaskOptions, rebootTimeoutMs: number): HostTask {
  const ifaceArg = args.interface as string | undefined;
  if (ifaceArg !== undefined && ifaceArg !== 'auto' && !IFACE_RE.test(String(ifaceArg)))
    throw new HostError('config', `task '${task.name}': invalid interface '${String(ifaceArg)}'`);
  const o: TaskOptions = { ...base, ...(ifaceArg !== undefined ? { interface: String(ifaceArg) } : {}) };
  switch (task.module) {
    case 'masquerade':
      return masqueradeTask(o);
    case 'persist': {
      const m = args.method as string | undefined;
      if (m !== undefined && !['systemd', 'rc.local', 'auto'].includes(m)) throw new HostError('config', `task '${task.name}': invalid method '${m}'`);
      return persistTask({ ...o, ...(m ? { persistence: m as TaskOptions['persistence'] } : {}) });
    }
    case 'reboot':
      return rebootTask({ ...o, rebootTimeoutMs: args.timeout !== undefined ? Number(args.timeout) * 1000 : rebootTimeoutMs, verify: args.verify as boolean | undefined });
    case 'verify':
      return checkTask({ ...o, requireFired: args.require_fired !== false });
    case 'check':
      return checkTask(o);
    case 'remove':
      return removeTask(o);
  }
}

function merge(acc: HostOutcome, out: HostOutcome, task: Task): void {
  acc.changes.push(...out.changes.map((c) => `${task.name}: ${c}`));
  acc.reasons.push(...out.reasons);
  acc.warnings.push(...out.warnings);
  acc.diffs.push(...out.diffs);
  acc.details = { ...acc.details, ...out.details };
  if (out.compliant !== undefined) acc.compliant = out.compliant;
  if (out.status === 'changed' && acc.status === 'ok') acc.status = 'changed';
  if (out.status === 'failed') acc.status = 'failed';
}

function playTask(play: Play, base: TaskOptions, rebootTimeoutMs: number): HostTask {
  return async (ctx: HostContext) => {
    const acc = emptyOutcome();
    // fleetmasq's own vars default to auto, as documented.
    const vars = { masquerade_interface: 'auto', masquerade_persistence: 'auto', ...ctx.vars, ...play.vars };
    for (const task of play.tasks) {
      if (ctx.signal.aborted) {
        acc.reasons.push(`interrupted before task '${task.name}'`);
        break;
      }
      ctx.step(`task: ${task.name}`);
      let args: Record<string, unknown>;
      try {
        args = templateArgs(task.args, vars);
      } catch (e) {
        throw new HostError('config', `task '${task.name}': ${(e as ConfigError).message}`);
      }
      const run = moduleTask(task, args, base, rebootTimeoutMs);
      try {
        const out = await run({ ...ctx, vars, step: (s) => ctx.step(`${task.name}: ${s}`) });
        merge(acc, out, task);
      } catch (e) {
        if (e instanceof HostError) throw new HostError(e.kind, `task '${task.name}': ${e.message}`, e.detail);
        throw e;
      }
      if (acc.status === 'failed') {
        acc.reasons.unshift(`task '${task.name}' failed`);
        break;
      }
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

export async function runPlaybook(
  plays: Play[],
  opts: {
    inventory: Inventory;
    pool: ConnectionPool;
    limit?: string;
    forks: number;
    base: TaskOptions;
    rebootTimeoutMs: number;
    signal: AbortSignal;
    onEvent: (e: RunEvent, play: Play) => void;
    onPlay?: (play: Play, hosts: string[]) => void | Promise<void>;
    /** Overrides every play's serial / max fail (flags). */
    serial?: Play['serial'];
    maxFailPercent?: number;
  },
): Promise<PlayResult[]> {
  // Resolve every play's hosts before contacting anyone: a pattern that matches nothing is an error.
  const targets = plays.map((p) => selectHosts(opts.inventory, p.hosts, opts.limit));
  const failed = new Set<string>();
  // A robot's connection is kept for its later plays and closed after the last play it is in.
  const lastPlay = new Map<string, number>();
  targets.forEach((hosts, i) => hosts.forEach((h) => lastPlay.set(h, i)));
  const out: PlayResult[] = [];
  for (let i = 0; i < plays.length; i++) {
    const play = plays[i]!;
    if (opts.signal.aborted) break;
    await opts.onPlay?.(play, targets[i]!);
    const run = await runFleet(playTask(play, opts.base, opts.rebootTimeoutMs), {
      command: 'play',
      hosts: targets[i]!,
      inventory: opts.inventory,
      pool: opts.pool,
      forks: opts.forks,
      serial: opts.serial?.length ? opts.serial : play.serial,
      maxFailPercent: opts.maxFailPercent ?? (play.anyErrorsFatal ? 0 : play.maxFailPercent),
      signal: opts.signal,
      onEvent: (e) => opts.onEvent(e, play),
      skip: failed,
      release: (h) => lastPlay.get(h) === i,
    });
    const results = targets[i]!.map((h) => run.results.get(h)!).filter(Boolean);
    for (const r of results) if (r.status === 'failed' || r.status === 'unreachable') failed.add(r.host);
    out.push({ name: play.name, hosts: targets[i]!, aborted: run.aborted, results, record: run.recordFile });
    if (run.aborted) break;
  }
  return out;
}

/** One result per robot across plays: the last play's result, failures win. */
export function combineResults(plays: PlayResult[]): HostResult[] {
  const by = new Map<string, HostResult>();
  for (const p of plays) {
    for (const r of p.results) {
      const prev = by.get(r.host);
      if (!prev) by.set(r.host, { ...r, changes: [...r.changes] });
      else if (r.status !== 'skipped') {
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
