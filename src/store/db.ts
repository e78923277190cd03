/**
 * The two databases the store runs on, behind one small async interface with `?` placeholders:
 * SQLite (better-sqlite3: embedded, one file, WAL so readers never block the writer and two runs on one
 * controller never tear a record) and PostgreSQL (pg: a team's shared store). Statements that change
 * the store run in transactions, serialized per connection.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError, EXIT, ExitError } from '../errors.js';

export type Row = Record<string, unknown>;

export interface Db {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, for people (no password). */
  readonly location: string;
  all(sql: string, params?: unknown[]): Promise<Row[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  /** Runs `fn` in one transaction (a writer's lock for SQLite), retried when another writer holds the database. */
  tx<T>(fn: (db: Pick<Db, 'all' | 'run'>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * A database error as the operator should read it: permissions are input to fix (exit 5), anything else
 * (busy past the timeout, disk full, corrupt) an error of the run (exit 1), never a stack trace.
 */
export function storeError(location: string, e: unknown): Error {
  if (e instanceof ConfigError || e instanceof ExitError) return e;
  const code = String((e as { code?: unknown }).code ?? '');
  const msg = (e as Error)?.message ?? String(e);
  if (/^SQLITE_(READONLY|CANTOPEN|PERM|AUTH)/.test(code) || code === 'EACCES' || code === '42501')
    return new ConfigError(`the store ${location}: ${msg} (check who owns it and its permissions)`);
  return new ExitError(EXIT.ERROR, `error: the store ${location}: ${msg}${code ? ` (${code})` : ''}`);
}

/** Wraps a Db so that every failure is a storeError. */
function guarded(db: Db): Db {
  const wrap =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await f(...a);
      } catch (e) {
        throw storeError(db.location, e);
      }
    };
  return { kind: db.kind, location: db.location, all: wrap(db.all), run: wrap(db.run), tx: wrap(db.tx), close: db.close };
}

/** Serializes async work on one connection (one transaction at a time). */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  push<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => {});
    return p;
  }
}

/**
 * better-sqlite3's compiled addon where its install put it (build/Release, built or prebuilt). Without
 * this path better-sqlite3 finds it with the `bindings` package, which reads a stack trace and tries a
 * dozen paths: about a tenth of a run record's start-up. undefined (let it search) if it is elsewhere.
 */
function sqliteAddon(): string | undefined {
  try {
    const addon = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
    return existsSync(addon) ? addon : undefined;
  } catch {
    return undefined;
  }
}

export async function openSqlite(file: string): Promise<Db> {
  let Database: typeof import('better-sqlite3');
  try {
    Database = (await import('better-sqlite3')).default;
  } catch (e) {
    throw new ConfigError(`the SQLite store needs the better-sqlite3 package, which did not load: ${(e as Error).message.split('\n')[0]}`);
  }
  const nativeBinding = sqliteAddon();
  let db: import('better-sqlite3').Database;
  try {
    db = new Database(file, { timeout: 15_000, nativeBinding });
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a committed record survives the controller's crash; only a power cut can lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = OFF');
  } catch (e) {
    throw new ConfigError(`cannot open the store ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const stmts = new Map<string, import('better-sqlite3').Statement>();
  const prep = (sql: string) => {
    let s = stmts.get(sql);
    if (!s) stmts.set(sql, (s = db.prepare(sql)));
    return s;
  };
  const q = new Queue();
  const api: Pick<Db, 'all' | 'run'> = {
    all: async (sql, params = []) => prep(sql).all(...(params as never[])) as Row[],
    run: async (sql, params = []) => void prep(sql).run(...(params as never[])),
  };
  return guarded({
    kind: 'sqlite',
    location: file,
    ...api,
    tx: (fn) =>
      q.push(async () => {
        db.exec('BEGIN IMMEDIATE'); // waits (busy timeout) for another process's writer
        try {
          const v = await fn(api);
          db.exec('COMMIT');
          return v;
        } catch (e) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw e;
        }
      }),
    close: async () => {
      await q.push(async () => undefined);
      db.close();
    },
  });
}

/** `?` placeholders as PostgreSQL's `$1, $2, …` (none of our statements has a `?` inside a literal). */
export function pgPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** postgres://user:secret@host/db?password=… → postgres://user@host/db (for messages and records): no secret survives. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'postgres://(unparsable URL)';
  }
  const user = u.username ? `${u.username}@` : '';
  const params = [...u.searchParams.entries()].filter(([k]) => !/pass|secret|key|token/i.test(k));
  const query = params.length ? `?${new URLSearchParams(params).toString()}` : '';
  return `${u.protocol}//${user}${u.host}${u.pathname}${query}`;
}

export async function openPostgres(url: string): Promise<Db> {
  const pg = (await import('pg')).default;
  const location = redactUrl(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000, application_name: 'fleetmasq' });
  // A server that goes away mid-run is an error of the next statement, not an unhandled event.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (e) {
    throw new ConfigError(`cannot connect to the store ${location}: ${(e as Error).message}`);
  }
  const q = new Queue();
  const api: Pick<Db, 'all' | 'run'> = {
    all: async (sql, params = []) => (await client.query(pgPlaceholders(sql), params)).rows as Row[],
    run: async (sql, params = []) => void (await client.query(pgPlaceholders(sql), params)),
  };
  return guarded({
    kind: 'postgres',
    location,
    ...api,
    tx: (fn) =>
      q.push(async () => {
        // A deadlock or serialization failure against another controller is tried again (it did nothing).
        for (let attempt = 1; ; attempt++) {
          await client.query('BEGIN');
          try {
            const v = await fn(api);
            await client.query('COMMIT');
            return v;
          } catch (e) {
            await client.query('ROLLBACK').catch(() => {});
            const code = (e as { code?: string }).code;
            if (attempt >= 5 || (code !== '40P01' && code !== '40001')) throw e;
            await new Promise((r) => setTimeout(r, 20 * attempt + Math.random() * 50));
          }
        }
      }),
    close: async () => {
      await q.push(async () => undefined);
      await client.end().catch(() => {});
    },
  });
}
