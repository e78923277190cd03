/**
 * The two databases the store runs on, behind one small async interface with `?` placeholders:
 * SQLite (better-sqlite3: embedded, one file, WAL so readers never block the writer and two runs on one
 * controller never tear a record) and PostgreSQL (pg: a team's shared store). Statements that change
 * the store run in transactions, serialized per connection.
 */
import { ConfigError } from '../errors.js';

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

/** Serializes async work on one connection (one transaction at a time). */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  push<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => {});
    return p;
  }
}

export async function openSqlite(file: string): Promise<Db> {
  let Database: typeof import('better-sqlite3');
  try {
    Database = (await import('better-sqlite3')).default;
  } catch (e) {
    throw new ConfigError(`the SQLite store needs the better-sqlite3 package, which did not load: ${(e as Error).message.split('\n')[0]}`);
  }
  let db: import('better-sqlite3').Database;
  try {
    db = new Database(file, { timeout: 15_000 });
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
  return {
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
  };
}

/** `?` placeholders as PostgreSQL's `$1, $2, …` (none of our statements has a `?` inside a literal). */
export function pgPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** postgres://user:secret@host/db → postgres://user@host/db (for messages and records). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    return u.toString().replace(/:@/, '@');
  } catch {
    return 'postgres://(unparsable URL)';
  }
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
  return {
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
  };
}
