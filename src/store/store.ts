/**
 * The fleet's memory: per-robot current state, per-run summaries and per-robot history, queried rather
 * than scanned. Every run writes each robot's result as soon as it is known (its own transaction);
 * the robot's current state moves only to newer evidence, so two controllers writing at once, or out of
 * order, never put an older verdict over a newer one. `status` reads the current-state table (one row
 * per robot) and the runs' summaries — never the history — so it costs the same after a year of sweeps.
 *
 * Where: FLEETMASQ_STORE (a path or sqlite:PATH for SQLite, postgres://… for a team's shared
 * PostgreSQL), else .fleetmasq/fleetmasq.db under the current folder (a private folder of the running
 * user's: see localdir.ts). Records of the JSONL era (.fleetmasq/runs/*.jsonl) are imported once.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, EXIT, ExitError } from '../errors.js';
import type { RunHeader } from '../records/audit.js';
import { reason, type HostResult, type HostStatus } from '../runner/types.js';
import { openPostgres, openSqlite, type Db, type Row } from './db.js';
import { evidenceOf, isoTime } from './evidence.js';
import { checkOwnFile, createPrivateFile, ensurePrivateDir, identity } from './localdir.js';
import type { EvidenceState, FleetStatus, HostHistoryEntry, RobotState, RobotStatus, RunPoint } from './types.js';

export const SCHEMA_VERSION = 1;

/** Evidence dated more than this after now is not believed (a controller's clock ahead, or a planted record). */
export const FUTURE_SKEW_MS = 5 * 60_000;

/** Default retention: a year of runs, at most 50,000 of them (a 10-minute sweep makes 52,560 a year). */
export const DEFAULT_KEEP = { maxAgeMs: 400 * 86_400_000, maxRuns: 50_000 };

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, command TEXT NOT NULL, controller TEXT NOT NULL, who TEXT NOT NULL,
     argv TEXT NOT NULL, inventory TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, dry_run INTEGER NOT NULL,
     asked INTEGER NOT NULL DEFAULT 0, judged INTEGER NOT NULL DEFAULT 0, compliant INTEGER NOT NULL DEFAULT 0, header TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)`,
  `CREATE INDEX IF NOT EXISTS runs_judged ON runs (judged, started_at)`,
  `CREATE TABLE IF NOT EXISTS results (run_id TEXT NOT NULL, host TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
     command TEXT NOT NULL, status TEXT NOT NULL, state TEXT, seen_at TEXT, boot_id TEXT, body TEXT NOT NULL,
     PRIMARY KEY (run_id, host, seq))`,
  `CREATE INDEX IF NOT EXISTS results_host_at ON results (host, at)`,
  `CREATE TABLE IF NOT EXISTS robots (host TEXT PRIMARY KEY,
     ev_state TEXT, ev_at TEXT, ev_run TEXT, ev_command TEXT, ev_controller TEXT,
     seen_at TEXT, boot_id TEXT,
     res_at TEXT, res_run TEXT, res_command TEXT, res_status TEXT, res_controller TEXT, res_error TEXT)`,
];

export interface StoreConfig {
  kind: 'sqlite' | 'postgres';
  /** A file path (sqlite) or a URL (postgres). */
  target: string;
  /** Where the setting came from, for `fleetmasq config`. */
  from: string;
  /** fleetmasq's own folder (.fleetmasq): made private when needed; a named one is only checked. */
  own: boolean;
}

/** The store this run uses: FLEETMASQ_STORE, else .fleetmasq/fleetmasq.db here. */
export function storeConfig(env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const v = env.FLEETMASQ_STORE?.trim();
  if (!v) return { kind: 'sqlite', target: join('.fleetmasq', 'fleetmasq.db'), from: 'default (.fleetmasq/ in the current folder)', own: true };
  if (/^postgres(ql)?:\/\//i.test(v)) return { kind: 'postgres', target: v, from: 'FLEETMASQ_STORE', own: false };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw new ConfigError(`FLEETMASQ_STORE: unsupported store '${v.split(':')[0]}' (a file path, sqlite:PATH, or postgres://…)`);
  const path = /^sqlite:/i.test(v) ? v.slice('sqlite:'.length) : v;
  if (!path.trim() || path.endsWith('/')) throw new ConfigError(`FLEETMASQ_STORE: '${v}' names no database file (a file path, sqlite:PATH, or postgres://…)`);
  return { kind: 'sqlite', target: path, from: 'FLEETMASQ_STORE', own: false };
}

/** The controller that writes a record: FLEETMASQ_CONTROLLER (e.g. a pod's job name), else this host's name. */
export function controllerName(env: NodeJS.ProcessEnv = process.env): string {
  return (env.FLEETMASQ_CONTROLLER?.trim() || hostname()).slice(0, 200);
}

export interface RunMeta {
  command: string;
  header: RunHeader;
  dryRun: boolean;
}

/** One run's writer: `add` queues a result (written in its own transaction), `finish` waits for all. */
export interface RunRecorder {
  readonly id: string;
  /** Where the run is recorded, for the recap ("<store> run <id>"). */
  readonly where: string;
  add(r: HostResult): void;
  /** Waits for every queued write; throws the first write error. */
  finish(): Promise<void>;
}

export interface Retention {
  maxAgeMs: number;
  maxRuns: number;
}

/** A run being written: its id, what it is, and each robot's state so far (its summary). */
interface RunRow {
  id: string;
  command: string;
  controller: string;
  dryRun: boolean;
  states: Map<string, EvidenceState | undefined>;
  seq: number;
}

const HOST_STATUSES: ReadonlySet<string> = new Set(['ok', 'changed', 'failed', 'unreachable', 'skipped']);

const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

export class Store {
  private constructor(
    readonly db: Db,
    readonly config: StoreConfig,
  ) {}

  /** Opens (creating when needed) the store named by the environment, after checking who owns its folder. */
  static async open(env: NodeJS.ProcessEnv = process.env, opts: { importJsonl?: boolean } = {}): Promise<Store> {
    const config = storeConfig(env);
    let db: Db;
    if (config.kind === 'sqlite') {
      const file = resolve(config.target);
      const dir = ensurePrivateDir(dirname(file), config.own);
      for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) checkOwnFile(f);
      createPrivateFile(file);
      const checked = [identity(dir), identity(file)];
      db = await openSqlite(file);
      // What SQLite opened is what was checked (nobody else can swap it below a checked folder; said twice).
      if (identity(dir) !== checked[0] || identity(file) !== checked[1]) {
        await db.close();
        throw new ConfigError(`refusing ${file}: it changed while fleetmasq opened it`);
      }
    } else db = await openPostgres(config.target);
    const store = new Store(db, config);
    try {
      await store.migrate();
      if (config.kind === 'sqlite' && opts.importJsonl !== false) await store.importJsonlOnce(join(dirname(resolve(config.target)), 'runs'));
    } catch (e) {
      await db.close();
      throw e;
    }
    return store;
  }

  get location(): string {
    return this.db.location;
  }

  /** The schema's version as stored (0: no schema yet). */
  private async schemaVersion(t: Pick<Db, 'all'>): Promise<number> {
    const exists =
      this.db.kind === 'postgres'
        ? (await t.all(`SELECT to_regclass('meta') IS NOT NULL AS e`))[0]?.e === true
        : (await t.all(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`)).length > 0;
    if (!exists) return 0;
    const v = await t.all(`SELECT value FROM meta WHERE key = 'schema'`);
    return v[0] ? Number(v[0].value) : 0;
  }

  /**
   * Creates the schema once. A store already at this version runs no DDL at all (on PostgreSQL, DDL
   * beside another controller's writes would take table locks against them); controllers starting at
   * once on a new store create it one at a time.
   */
  private async migrate(): Promise<void> {
    const check = (have: number) => {
      if (have > SCHEMA_VERSION) throw new ConfigError(`the store ${this.location} was written by a newer fleetmasq (schema ${have}; this one knows ${SCHEMA_VERSION})`);
      return have === SCHEMA_VERSION;
    };
    if (check(await this.schemaVersion(this.db))) return;
    await this.db.tx(async (t) => {
      if (this.db.kind === 'postgres') await t.all(`SELECT pg_advisory_xact_lock(7270461)`);
      if (check(await this.schemaVersion(t))) return;
      for (const s of SCHEMA) await t.run(s);
      await t.run(`INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [String(SCHEMA_VERSION)]);
    });
  }

  /** A new run's row (inside a transaction). */
  private async insertRun(t: Pick<Db, 'run'>, meta: RunMeta, controller: string): Promise<RunRow> {
    const startedAt = isoTime(meta.header.startedAt) ?? new Date().toISOString();
    const id = `${startedAt.replace(/[-:.]/g, '').replace('T', '-').slice(0, 18)}-${meta.command}-${randomBytes(4).toString('hex')}`;
    await t.run(`INSERT INTO runs (id, command, controller, who, argv, inventory, started_at, dry_run, header) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      id,
      meta.command,
      controller,
      meta.header.who,
      JSON.stringify(meta.header.argv),
      meta.header.inventory,
      startedAt,
      meta.dryRun ? 1 : 0,
      JSON.stringify({ ...meta.header, controller }),
    ]);
    return { id, command: meta.command, controller, dryRun: meta.dryRun, states: new Map(), seq: 0 };
  }

  /** One result of a run (inside a transaction): its history row, the run's summary, the robot's current state. */
  private async insertResult(t: Pick<Db, 'run'>, run: RunRow, r: HostResult): Promise<void> {
    const ev = evidenceOf(run.command, r, run.dryRun);
    // Each run's summary counts every robot it was asked about once, as its last result left it.
    run.states.set(r.host, ev.state);
    const states = [...run.states.values()];
    const judged = states.filter((x) => x && x !== 'unknown').length;
    const compliant = states.filter((x) => x === 'compliant').length;
    await t.run(`INSERT INTO results (run_id, host, seq, at, command, status, state, seen_at, boot_id, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      run.id,
      r.host,
      run.seq++,
      ev.at,
      run.command,
      r.status,
      ev.state ?? null,
      ev.seenAt ?? null,
      ev.bootId ?? null,
      JSON.stringify(r),
    ]);
    await t.run(`UPDATE runs SET asked = ?, judged = ?, compliant = ?, finished_at = ? WHERE id = ?`, [run.states.size, judged, compliant, ev.at, run.id]);
    await t.run(`INSERT INTO robots (host) VALUES (?) ON CONFLICT (host) DO NOTHING`, [r.host]);
    // Each part of a robot's current state moves only forward in time.
    if (ev.state)
      await t.run(`UPDATE robots SET ev_state = ?, ev_at = ?, ev_run = ?, ev_command = ?, ev_controller = ? WHERE host = ? AND (ev_at IS NULL OR ev_at <= ?)`, [
        ev.state,
        ev.at,
        run.id,
        run.command,
        run.controller,
        r.host,
        ev.at,
      ]);
    if (ev.seenAt) await t.run(`UPDATE robots SET seen_at = ?, boot_id = ? WHERE host = ? AND (seen_at IS NULL OR seen_at <= ?)`, [ev.seenAt, ev.bootId ?? null, r.host, ev.seenAt]);
    await t.run(
      `UPDATE robots SET res_at = ?, res_run = ?, res_command = ?, res_status = ?, res_controller = ?, res_error = ? WHERE host = ? AND (res_at IS NULL OR res_at <= ?)`,
      [ev.at, run.id, run.command, r.status, run.controller, r.error ? JSON.stringify(r.error) : null, r.host, ev.at],
    );
  }

  /** Starts a run: its summary row, then each result as it comes, each in its own transaction (see RunRecorder). */
  async startRun(meta: RunMeta, env: NodeJS.ProcessEnv = process.env): Promise<RunRecorder> {
    const run = await this.db.tx((t) => this.insertRun(t, meta, controllerName(env)));
    let pending: Promise<void> = Promise.resolve();
    let failure: unknown;
    return {
      id: run.id,
      where: `${this.location} run ${run.id}`,
      add: (r) => {
        pending = pending.then(() => this.db.tx((t) => this.insertResult(t, run, r))).catch((e) => void (failure ??= e));
      },
      finish: async () => {
        await pending;
        if (failure) throw new ExitError(EXIT.ERROR, `error: could not write the run record to ${this.location}: ${(failure as Error).message}`);
      },
    };
  }

  /** The fleet as its newest evidence says, for `hosts` (the inventory's selection), without contacting any robot. */
  async fleet(hosts: string[], now: Date, staleMs?: number): Promise<FleetStatus> {
    const rows = new Map((await this.db.all(`SELECT * FROM robots`)).map((r) => [String(r.host), r]));
    const limit = new Date(now.getTime() + FUTURE_SKEW_MS).toISOString();
    const robots: RobotStatus[] = [];
    for (const host of hosts) {
      let row = rows.get(host);
      let futureDated = false;
      if (row && [row.ev_at, row.seen_at, row.res_at].some((t) => t !== null && t !== undefined && String(t) > limit)) {
        // Not believed: the state from the newest history that is not in the future.
        futureDated = true;
        row = await this.stateBefore(host, limit);
      }
      robots.push(robotStatus(host, row, now, staleMs, futureDated));
    }
    const history = (await this.db.all(`SELECT id, started_at, command, controller, asked, judged, compliant, dry_run FROM runs WHERE judged > 0 ORDER BY started_at`)).map(
      (r): RunPoint => ({
        runId: String(r.id),
        at: String(r.started_at),
        command: String(r.command),
        controller: String(r.controller),
        asked: Number(r.asked),
        judged: Number(r.judged),
        compliant: Number(r.compliant),
        dryRun: Number(r.dry_run) === 1,
      }),
    );
    const count = (s: RobotState) => robots.filter((r) => r.state === s).length;
    return {
      robots,
      summary: {
        total: robots.length,
        compliant: count('compliant'),
        noncompliant: count('noncompliant'),
        removed: count('removed'),
        unknown: count('unknown'),
        neverSeen: count('never-seen'),
        stale: robots.filter((r) => r.stale && r.lastSeen).length,
      },
      history,
    };
  }

  /** A robot's current-state row rebuilt from its history, ignoring anything dated after `limit`. */
  private async stateBefore(host: string, limit: string): Promise<Row | undefined> {
    const newest = async (cond: string) =>
      (
        await this.db.all(
          `SELECT r.run_id, r.at, r.command, r.status, r.state, r.seen_at, r.boot_id, r.body, u.controller FROM results r JOIN runs u ON u.id = r.run_id
           WHERE r.host = ? AND r.at <= ? ${cond} ORDER BY r.at DESC, r.seq DESC LIMIT 1`,
          [host, limit],
        )
      )[0];
    const res = await newest('');
    if (!res) return undefined;
    const ev = await newest('AND r.state IS NOT NULL');
    const seen = await newest('AND r.seen_at IS NOT NULL');
    const err = (JSON.parse(String(res.body)) as HostResult).error;
    return {
      host,
      ev_state: ev?.state ?? null,
      ev_at: ev?.at ?? null,
      ev_run: ev?.run_id ?? null,
      ev_command: ev?.command ?? null,
      ev_controller: ev?.controller ?? null,
      seen_at: seen?.seen_at ?? null,
      boot_id: seen?.boot_id ?? null,
      res_at: res.at,
      res_run: res.run_id,
      res_command: res.command,
      res_status: res.status,
      res_controller: res.controller,
      res_error: err ? JSON.stringify(err) : null,
    };
  }

  /** A robot's history, newest first (the audit trail from the controller's side). */
  async hostHistory(host: string, limit = 50): Promise<HostHistoryEntry[]> {
    const rows = await this.db.all(
      `SELECT r.run_id, r.at, r.command, r.status, r.state, r.boot_id, r.body, u.controller, u.who FROM results r JOIN runs u ON u.id = r.run_id
       WHERE r.host = ? ORDER BY r.at DESC, r.seq DESC LIMIT ?`,
      [host, limit],
    );
    return rows.map((r) => {
      const body = JSON.parse(String(r.body)) as HostResult;
      return {
        runId: String(r.run_id),
        at: String(r.at),
        command: String(r.command),
        controller: `${String(r.who).split('@')[0]}@${String(r.controller)}`,
        status: body.status,
        ...(r.state ? { state: String(r.state) as EvidenceState } : {}),
        ...(r.boot_id ? { bootId: String(r.boot_id) } : {}),
        reasons: reasonTexts(body.reasons),
        ...(body.error ? { error: body.error } : {}),
      };
    });
  }

  /** One robot's stored result(s) of one run (a converging run may hold several attempts), oldest first. */
  async results(host: string, runId: string): Promise<HostResult[]> {
    const rows = await this.db.all(`SELECT body FROM results WHERE host = ? AND run_id = ? ORDER BY seq`, [host, runId]);
    return rows.map((r) => JSON.parse(String(r.body)) as HostResult);
  }

  /** A run's header as recorded: who ran what, from which controller, with which inventory. */
  async runHeader(runId: string): Promise<(RunHeader & { controller: string; command: string }) | undefined> {
    const r = (await this.db.all(`SELECT header, command FROM runs WHERE id = ?`, [runId]))[0];
    return r ? { ...JSON.parse(String(r.header)), command: String(r.command) } : undefined;
  }

  /** Every result a run recorded (every attempt), in the order they came. */
  async runResults(runId: string): Promise<HostResult[]> {
    const rows = await this.db.all(`SELECT body FROM results WHERE run_id = ? ORDER BY at, seq`, [runId]);
    return rows.map((r) => JSON.parse(String(r.body)) as HostResult);
  }

  /** Every stored result as JSON lines (run, command, controller, then the result), oldest first. */
  async *exportJsonl(hosts?: Set<string>): AsyncGenerator<string> {
    const runs = await this.db.all(`SELECT id, command, controller FROM runs ORDER BY started_at`);
    for (const run of runs) {
      for (const r of await this.db.all(`SELECT host, body FROM results WHERE run_id = ? ORDER BY seq`, [run.id])) {
        if (hosts && !hosts.has(String(r.host))) continue;
        yield JSON.stringify({ run: run.id, command: run.command, controller: run.controller, ...JSON.parse(String(r.body)) });
      }
    }
  }

  /** Drops runs (and their results) older than the age limit or beyond the newest `maxRuns`. Returns how many runs went. */
  async prune(keep: Retention, now = new Date()): Promise<number> {
    return this.db.tx(async (t) => {
      const ageCut = new Date(now.getTime() - keep.maxAgeMs).toISOString();
      // A run still writing (a result in the last hour) is never dropped, whatever its start.
      const idleCut = new Date(now.getTime() - 3600_000).toISOString();
      const last = `COALESCE(finished_at, started_at)`;
      const where = `${last} < ? AND (${last} < ? OR id IN (SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1000000000 OFFSET ?))`;
      const params = [idleCut, ageCut, keep.maxRuns];
      const n = Number((await t.all(`SELECT COUNT(*) AS n FROM runs WHERE ${where}`, params))[0]?.n ?? 0);
      if (!n) return 0;
      await t.run(`DELETE FROM results WHERE run_id IN (SELECT id FROM runs WHERE ${where})`, params);
      await t.run(`DELETE FROM runs WHERE ${where}`, params);
      return n;
    });
  }

  /**
   * Records of the JSONL era (one file a run, `.fleetmasq/runs/*.jsonl`), imported once: all files in
   * one transaction with the marker that says so, so a failed import leaves nothing half-imported and
   * two controllers opening the store at once import them once. Lines that are not results are skipped.
   */
  private async importJsonlOnce(dir: string): Promise<void> {
    if (!existsSync(dir)) return;
    if ((await this.db.all(`SELECT value FROM meta WHERE key = 'jsonl-imported'`)).length) return;
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
    await this.db.tx(async (t) => {
      if ((await t.all(`SELECT value FROM meta WHERE key = 'jsonl-imported'`)).length) return;
      for (const f of files) await this.importJsonlFile(t, join(dir, f));
      await t.run(`INSERT INTO meta (key, value) VALUES ('jsonl-imported', ?) ON CONFLICT (key) DO NOTHING`, [new Date().toISOString()]);
    });
  }

  private async importJsonlFile(t: Pick<Db, 'run' | 'all'>, file: string): Promise<void> {
    checkOwnFile(file);
    const text = (v: unknown, dflt: string) => (typeof v === 'string' ? v : dflt);
    let header: Record<string, unknown> = {};
    const results: HostResult[] = [];
    for (const l of readFileSync(file, 'utf8').split('\n')) {
      if (!l.trim()) continue;
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch {
        continue; // A line cut short when its run was killed.
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
      const o = v as Record<string, unknown>;
      if (o.run && typeof o.run === 'object' && !Array.isArray(o.run)) header = o.run as Record<string, unknown>;
      else if (typeof o.host === 'string' && typeof o.status === 'string' && HOST_STATUSES.has(o.status)) {
        const details = o.details && typeof o.details === 'object' && !Array.isArray(o.details) ? (o.details as HostResult['details']) : {};
        const list = (x: unknown) => (Array.isArray(x) ? x.filter((y): y is string => typeof y === 'string') : []);
        const err = o.error && typeof o.error === 'object' && typeof (o.error as { kind?: unknown }).kind === 'string' ? (o.error as HostResult['error']) : null;
        results.push({
          host: o.host,
          status: o.status as HostStatus,
          ...(typeof o.compliant === 'boolean' ? { compliant: o.compliant } : {}),
          changes: list(o.changes),
          // Reasons of the JSONL era were words only.
          reasons: list(o.reasons).map((text) => reason('recorded', text)),
          warnings: list(o.warnings),
          diffs: list(o.diffs),
          details,
          error: err,
          ...(typeof o.finishedAt === 'string' ? { finishedAt: o.finishedAt } : {}),
        });
      }
    }
    const m = /^(\d{4}-\d\d-\d\dT\d\d)-(\d\d)-(\d\d)-(\d{3})Z-([a-z-]+)-/.exec(basename(file));
    const command = text(header.command, m?.[5] ?? 'unknown').slice(0, 40);
    const startedAt = isoTime(text(header.startedAt, '')) ?? (m ? `${m[1]}:${m[2]}:${m[3]}.${m[4]}Z` : new Date(0).toISOString());
    const argv = Array.isArray(header.argv) ? header.argv.filter((a): a is string => typeof a === 'string') : [];
    const run = await this.insertRun(
      t,
      {
        command,
        dryRun: results.some((r) => r.details?.checkMode === true),
        header: { who: text(header.who, 'unknown@imported'), argv, inventory: text(header.inventory, ''), version: text(header.version, ''), startedAt },
      },
      `imported from ${basename(file)}`.slice(0, 200),
    );
    for (const r of results) await this.insertResult(t, run, r);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** Reasons as stored: plain text, or typed `{code, text}` once results carry them. */
function reasonTexts(reasons: unknown): string[] {
  if (!Array.isArray(reasons)) return [];
  return reasons.map((r) => (typeof r === 'string' ? r : r && typeof r === 'object' && 'text' in r ? String((r as { text: unknown }).text) : JSON.stringify(r)));
}

function robotStatus(host: string, row: Row | undefined, now: Date, staleMs: number | undefined, futureDated: boolean): RobotStatus {
  const lastSeen = str(row?.seen_at);
  const evState = str(row?.ev_state) as EvidenceState | undefined;
  const state: RobotState = evState ?? (lastSeen ? 'unknown' : 'never-seen');
  const stale = !lastSeen || (staleMs !== undefined && now.getTime() - Date.parse(lastSeen) > staleMs);
  const err = str(row?.res_error);
  return {
    host,
    state,
    ...(evState
      ? { evidence: { state: evState, at: String(row!.ev_at), command: String(row!.ev_command), runId: String(row!.ev_run), controller: String(row!.ev_controller) } }
      : {}),
    ...(lastSeen ? { lastSeen } : {}),
    ...(row?.res_at
      ? {
          lastResult: {
            command: String(row.res_command),
            status: String(row.res_status) as HostStatus,
            at: String(row.res_at),
            runId: String(row.res_run),
            controller: String(row.res_controller),
            ...(err ? { error: JSON.parse(err) } : {}),
          },
        }
      : {}),
    ...(row?.boot_id ? { bootId: String(row.boot_id) } : {}),
    stale,
    ...(futureDated ? { futureDated: true } : {}),
  };
}
