/**
 * Runs a task over a fleet: batches one after another, up to `forks` robots at once inside a batch,
 * allSettled semantics (one robot's failure never stops the others), max-fail threshold between
 * batches, Ctrl-C stops scheduling while robots in flight finish their step. Every result goes to the
 * run's record in the store (src/store) as soon as it is known.
 */
import pLimit from 'p-limit';
import { HostError } from '../errors.js';
import type { RunRecorder } from '../store/store.js';
import type { Inventory, Vars } from '../inventory/inventory.js';
import { hostVars } from '../inventory/inventory.js';
import { SshConnection, type Trace } from '../transport/ssh.js';
import { targetFor, type SshTarget, type TransportOptions } from '../transport/target.js';
import { planBatches, stopAfterBatch, stopMessage, stopRules, type BatchCounts, type SerialItem, type Stop } from './batches.js';
import { notStartedResult, reason, skippedResult, type HostOutcome, type HostRaw, type HostResult, type RunEvent } from './types.js';
import { keptOutput } from '../util/sanitize.js';
import { retry, type Backoff } from '../util/retry.js';

/** Between connection attempts to one robot: 0.5 s, 1 s, 2 s … up to 8 s, each ±50 % (cellular links drop first handshakes). */
const CONNECT_BACKOFF: Backoff = { firstMs: 500, factor: 2, maxMs: 8000, jitter: 0.5 };
/** --until-converged: between rounds, 5 s doubling up to a minute (no jitter: one wait for the whole fleet). */
const ROUND_BACKOFF: Backoff = { firstMs: 5000, factor: 2, maxMs: 60_000 };

export interface HostContext {
  host: string;
  vars: Vars;
  /** The robot's connection (opened on first use, reused for every step of the run). */
  conn(): Promise<SshConnection>;
  /** Drops the cached connection (after a reboot) so the next conn() opens a new one. */
  reconnect(): void;
  /** Opens a connection that is not cached (reboot probes); `adopt` makes one the robot's connection. */
  probe(timeoutMs: number, signal?: AbortSignal): Promise<SshConnection>;
  adopt(conn: SshConnection): void;
  step(name: string): void;
  warn(message: string): void;
  /** Ctrl-C: finish the current step, start no new one. */
  signal: AbortSignal;
  /** A second Ctrl-C: the robot is abandoned; long waits (a reboot's) end at once. */
  abandon: AbortSignal;
}

export type HostTask = (ctx: HostContext) => Promise<HostOutcome>;

/** One connection per robot for the whole run (several plays and tasks share it). */
export class ConnectionPool {
  private readonly conns = new Map<string, Promise<SshConnection>>();
  constructor(
    private readonly inv: Inventory,
    private readonly transport: TransportOptions,
    private readonly warn: (host: string, msg: string) => void,
    /** Ctrl-C: no further connection attempts. */
    private readonly signal?: AbortSignal,
  ) {}

  /** Connections open (or opening) right now. */
  get size(): number {
    return this.conns.size;
  }

  private readonly targets = new Map<string, SshTarget>();
  private closed = false;

  /** Verbose output (-v…-vvv) about each robot's connection and commands; absent: none is produced. */
  trace?: (host: string, level: 1 | 2 | 3, text: string) => void;

  /** A robot's secrets (its sudo password, its key's passphrase): never shown, never kept. */
  secrets(host: string): string[] {
    let t: SshTarget | undefined;
    try {
      t = this.target(host);
    } catch {
      // A robot whose connection plan is invalid never connected: it has no secret in play.
    }
    return [t?.becomePassword, t?.keyPassphrase, this.transport.becomePassword].filter((x): x is string => Boolean(x));
  }

  /** A robot's trace, with its secrets (sudo password, key passphrase) blotted out of every line. */
  private traceFor(host: string): Trace | undefined {
    const sink = this.trace;
    if (!sink) return undefined;
    const secrets = this.secrets(host);
    return (level, text) => sink(host, level, redact(text, secrets));
  }

  /** A robot's connection plan (resolved once, cached). Throws ConfigError for a setting that cannot work. */
  target(host: string): SshTarget {
    let t = this.targets.get(host);
    if (!t) this.targets.set(host, (t = targetFor(host, hostVars(this.inv, host), this.transport)));
    return { ...t };
  }

  /**
   * Resolves every robot's connection plan before any robot is contacted, so that a bad ssh option on
   * one robot is an input error (exit 5), not a failure found after other robots were changed.
   */
  prepare(hosts: Iterable<string>): SshTarget[] {
    return [...hosts].map((h) => this.target(h));
  }

  get(host: string): Promise<SshConnection> {
    if (this.closed) return Promise.reject(new HostError('interrupted', 'the run is over: no new connection'));
    let p = this.conns.get(host);
    if (p) {
      return p.then((c) => {
        if (c.isOpen) return c;
        this.conns.delete(host);
        return this.get(host);
      });
    }
    p = this.openWithRetries(host);
    this.conns.set(host, p);
    p.catch(() => this.conns.delete(host));
    return p;
  }

  /**
   * A connection, trying again after a failed handshake (cellular links drop first handshakes) with
   * capped, jittered exponential backoff. Only `unreachable` is retried: a refused login or host key is
   * final. A robot that gave no answer at all within the connect timeout is not tried again here: it would
   * hold its fork slot for timeout after timeout while working robots wait (--until-converged tries it
   * again in a later round, holding no slot).
   */
  private openWithRetries(host: string): Promise<SshConnection> {
    const t = this.target(host);
    // An attempt under way is not cut by Ctrl-C (the robot's step finishes); no new attempt after it,
    // and a Ctrl-C during the wait between attempts ends the wait at once.
    return retry(() => SshConnection.open(t, (m) => this.warn(host, m), undefined, this.traceFor(host)), {
      retries: t.connectRetries,
      delay: CONNECT_BACKOFF,
      retryOnError: (e) => e instanceof HostError && e.kind === 'unreachable' && !e.detail?.silent,
      signal: this.signal,
    });
  }

  async probe(host: string, timeoutMs: number, signal?: AbortSignal): Promise<SshConnection> {
    const t = this.target(host);
    t.connectTimeoutMs = timeoutMs;
    return SshConnection.open(t, (m) => this.warn(host, m), signal, this.traceFor(host));
  }

  adopt(host: string, conn: SshConnection): void {
    // A probe that wins after the run ended (an abandoned reboot) is closed, not kept alive.
    if (this.closed) return conn.dispose();
    this.drop(host);
    this.conns.set(host, Promise.resolve(conn));
  }

  drop(host: string): void {
    const p = this.conns.get(host);
    this.conns.delete(host);
    p?.then((c) => c.dispose()).catch(() => {});
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.allSettled(all.map((p) => p.then((c) => c.dispose())));
  }
}

/** Every occurrence of a secret replaced (a secret never reaches the terminal, even inside a robot's output). */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('********');
  return out;
}

export interface RunOptions {
  command: string;
  hosts: string[];
  inventory: Inventory;
  pool: ConnectionPool;
  forks: number;
  serial: SerialItem[];
  maxFailPercent?: number;
  signal: AbortSignal;
  /** A second Ctrl-C: robots still in flight are abandoned (reported as interrupted) and the run ends. */
  abandon?: AbortSignal;
  onEvent: (e: RunEvent) => void;
  /** The run's record in the store: every result is written to it as soon as it is known. */
  record?: RunRecorder;
  /** --until-converged: which round this is (1 the first). */
  round?: number;
  /** Hosts already failed earlier in a playbook: skipped here. */
  skip?: Set<string>;
  /**
   * Whether a robot's connection can be closed once it is done here (default: yes). A playbook keeps it
   * for a robot's later plays; otherwise a fleet of thousands would hold thousands of connections and
   * ProxyCommand processes open until the end.
   */
  release?: (host: string) => boolean;
}

export interface RunSummary {
  results: Map<string, HostResult>;
  /** Why later robots were not started (a stop rule or Ctrl-C). */
  stopped?: Stop;
  /** The stop in words. */
  aborted?: string;
  /** Where the run is recorded ("<store> run <id>"). */
  record?: string;
}

/** A robot's output as the run record keeps it: each stream sanitised and bounded; undefined when there is none. */
export function keptRaw(raw: HostRaw | undefined): HostRaw | undefined {
  if (!raw) return undefined;
  const out: HostRaw = {};
  for (const k of ['stdout', 'stderr', 'facts'] as const) if (raw[k]) out[k] = keptOutput(raw[k]!);
  if (raw.exitCode !== undefined) out.exitCode = raw.exitCode;
  return Object.keys(out).length ? out : undefined;
}

export function toHostResult(host: string, e: unknown, startedAt: number): HostResult {
  const err = e instanceof HostError ? e : new HostError('command', (e as Error)?.message ?? String(e));
  const raw = keptRaw(err.detail && { stdout: err.detail.stdout, stderr: err.detail.stderr, facts: err.detail.facts, exitCode: err.detail.exitCode });
  return {
    host,
    status: err.kind === 'unreachable' || err.kind === 'hostkey' || err.kind === 'auth' ? 'unreachable' : 'failed',
    changes: [],
    reasons: [],
    warnings: [],
    diffs: [],
    details: {},
    error: { kind: err.kind, message: err.message },
    ...(raw ? { raw } : {}),
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - startedAt,
  };
}


/** The task's outcome, or an `interrupted` failure as soon as the run abandons robots in flight. */
function untilAbandoned<T>(work: Promise<T>, abandon: AbortSignal | undefined, step: () => string): Promise<T> {
  if (!abandon) return work;
  // The abandoned work still settles later (its connection is closed at the end of the run): nobody awaits it.
  work.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const onAbandon = () => reject(new HostError('interrupted', `abandoned during '${step()}' by a second interrupt: this robot may be mid-step`));
    if (abandon.aborted) return onAbandon();
    abandon.addEventListener('abort', onAbandon, { once: true });
    work.then(resolve, reject).finally(() => abandon.removeEventListener('abort', onAbandon));
  });
}

/** One robot through the task: its context, its outcome (or typed failure) as a result, its connection released. */
async function runHost(task: HostTask, host: string, opts: RunOptions, finish: (r: HostResult) => void): Promise<void> {
  if (opts.signal.aborted) return finish(notStartedResult(host, 'interrupted'));
  const t0 = Date.now();
  let lastStep = 'starting';
  let stepAt = t0;
  opts.onEvent({ type: 'start', host });
  const ctx: HostContext = {
    host,
    vars: hostVars(opts.inventory, host),
    conn: () => opts.pool.get(host),
    reconnect: () => opts.pool.drop(host),
    probe: (ms, signal) => opts.pool.probe(host, ms, signal),
    adopt: (c) => opts.pool.adopt(host, c),
    step: (step) => {
      const now = Date.now();
      opts.onEvent({ type: 'step', host, step, elapsedMs: now - t0, tookMs: now - stepAt, previous: lastStep });
      lastStep = step;
      stepAt = now;
    },
    warn: (message) => opts.onEvent({ type: 'warn', host, message }),
    signal: opts.signal,
    abandon: opts.abandon ?? new AbortController().signal,
  };
  let result: HostResult;
  try {
    const { raw: rawOut, ...out } = await untilAbandoned(task(ctx), opts.abandon, () => lastStep);
    const raw = keptRaw(rawOut);
    result = { host, ...out, ...(raw ? { raw } : {}), error: null, startedAt: new Date(t0).toISOString(), finishedAt: new Date().toISOString(), durationMs: Date.now() - t0 };
  } catch (e) {
    // The one catch boundary for a robot: whatever went wrong is this robot's typed failure.
    result = toHostResult(host, e, t0);
  }
  // What the robot said is kept in the record: never with a secret in it (a robot may echo its input).
  const secrets = opts.pool.secrets?.(host) ?? [];
  if (secrets.length) {
    if (result.raw) for (const k of ['stdout', 'stderr', 'facts'] as const) if (result.raw[k]) result.raw[k] = redact(result.raw[k]!, secrets);
    // An error's message quotes the robot's error output.
    if (result.error) result.error = { ...result.error, message: redact(result.error.message, secrets) };
    result.reasons = result.reasons.map((r) => ({ ...r, text: redact(r.text, secrets) }));
  }
  finish(result);
  if ((opts.release?.(host) ?? true) || result.status === 'failed' || result.status === 'unreachable') opts.pool.drop(host);
}

/** How a batch went, for the stop rules. */
function batchCounts(batch: string[], results: Map<string, HostResult>): BatchCounts {
  const statuses = batch.map((h) => results.get(h)?.status);
  return {
    failed: statuses.filter((x) => x === 'failed' || x === 'unreachable').length,
    succeeded: statuses.filter((x) => x === 'ok' || x === 'changed').length,
    size: batch.length,
  };
}

export async function runFleet(task: HostTask, opts: RunOptions): Promise<RunSummary> {
  const results = new Map<string, HostResult>();
  const finish = (r: HostResult) => {
    results.set(r.host, r);
    opts.record?.add(r);
    opts.onEvent({ type: 'done', result: r });
  };
  const hosts: string[] = [];
  for (const h of opts.hosts) {
    if (opts.skip?.has(h)) finish(skippedResult(h, reason('failed-earlier', 'failed earlier in this run')));
    else hosts.push(h);
  }
  const batches = planBatches(hosts, opts.serial);
  const rules = stopRules(opts.serial, opts.maxFailPercent);
  const limit = pLimit(Math.max(1, opts.forks));
  let stopped: Stop | undefined;
  for (let b = 0; b < batches.length; b++) {
    const batch = batches[b]!;
    if (!stopped && opts.signal.aborted) stopped = { kind: 'interrupted' };
    if (stopped) {
      for (const h of batch) finish(notStartedResult(h, stopMessage(stopped)));
      continue;
    }
    opts.onEvent({ type: 'batch', index: b + 1, total: batches.length, hosts: batch, ...(opts.round ? { round: opts.round } : {}) });
    await Promise.allSettled(batch.map((host) => limit(() => runHost(task, host, opts, finish))));
    if (b === batches.length - 1 || opts.signal.aborted) continue;
    stopped = stopAfterBatch(b, batchCounts(batch, results), rules);
    if (stopped) opts.onEvent({ type: 'abort', reason: stopMessage(stopped) });
  }
  if (opts.signal.aborted && !stopped) stopped = { kind: 'interrupted' };
  return { results, stopped, aborted: stopped && stopMessage(stopped), record: opts.record?.where };
}

/**
 * --until-converged: robots that answer are done at once; robots that were unreachable are tried again
 * in later rounds, with capped backoff, until they answer or the deadline passes. Between rounds no
 * robot holds a fork slot. One run record (every attempt in it); each robot's result is its last attempt's. Ctrl-C ends the wait.
 */
export async function runUntilConverged(task: HostTask, opts: RunOptions, deadlineAt: number): Promise<RunSummary> {
  const results = new Map<string, HostResult>();
  let pending = opts.hosts;
  const last = await retry(
    async (n) => {
      const round = await runFleet(task, { ...opts, hosts: pending, round: n + 1 });
      for (const [h, r] of round.results) results.set(h, r);
      // Only robots that did not answer wait: a refused login or host key will not change by waiting.
      pending = pending.filter((h) => results.get(h)?.error?.kind === 'unreachable');
      return round;
    },
    {
      deadlineAt,
      delay: ROUND_BACKOFF,
      retryOnValue: (round) => pending.length > 0 && !round.stopped,
      signal: opts.signal,
      onWait: ({ delayMs }) => opts.onEvent({ type: 'waiting', done: opts.hosts.length - pending.length, waiting: pending.length, nextInMs: delayMs, deadlineInMs: deadlineAt - Date.now() }),
    },
  );
  // Ctrl-C during the wait between rounds: the wait ends, and the run says it was interrupted.
  if (opts.signal.aborted && !last.stopped) return { results, record: opts.record?.where, stopped: { kind: 'interrupted' }, aborted: stopMessage({ kind: 'interrupted' }) };
  return { ...last, results };
}
