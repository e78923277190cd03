/**
 * Trust of local state: fleetmasq keeps its records (and retry file) only where no other user can reach
 * them. As OpenSSH's safe_path checks authorized_keys: every folder from / down to the store's must
 * belong to root or to the running user, and none may be writable by group or others — except a
 * root-owned sticky folder such as /tmp, where nobody but the owner can rename what is in it. The
 * store's own folder must be the running user's and writable by nobody else. So no other user can swap
 * a folder on the way, plant a link, or race one in between these checks and SQLite opening its files.
 * A permission problem is a clear ConfigError (exit 5), never a stack trace.
 */
import { chmodSync, closeSync, constants, lstatSync, mkdirSync, openSync, type Stats } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { ConfigError } from '../errors.js';

const uid = (): number => process.getuid?.() ?? 0;

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new ConfigError(`cannot read ${p}: ${code ?? (e as Error).message}`);
  }
}

/** Why a folder on the way to the store cannot be trusted, or undefined when it can. */
export function untrustedAncestor(st: Stats, me = uid()): string | undefined {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (!st.isDirectory()) return 'is not a folder';
  if (st.uid !== 0 && st.uid !== me) return `belongs to uid ${st.uid}, who could replace what fleetmasq keeps below it`;
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !(sticky && st.uid === 0))
    return `is writable by ${st.mode & 0o002 ? 'every user' : 'its group'}: another user could replace what fleetmasq keeps below it`;
  return undefined;
}

/** Checks every existing folder from / down to `abs` (inclusive). */
function checkAncestors(abs: string, me: number, what: string): void {
  const parts = abs.split(sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const p = sep + parts.slice(0, i).join(sep);
    const st = lstatOrNull(p);
    if (!st) return; // created below, by us
    const why = untrustedAncestor(st, me);
    if (why) throw new ConfigError(`refusing to keep fleetmasq's records in ${what}: ${p} ${why}; run from a folder of your own or set FLEETMASQ_STORE`);
  }
}

/**
 * Makes sure `dir` is a private folder of the running user and returns its absolute path. `own`:
 * fleetmasq's own folder (`.fleetmasq`), created 0700 when missing and tightened to 0700 when it is
 * the user's. A folder named by FLEETMASQ_STORE is never chmod-ed: one writable by others is refused.
 */
export function ensurePrivateDir(dir: string, own = true): string {
  const abs = resolve(dir);
  const me = uid();
  checkAncestors(dirname(abs), me, abs);
  let st = lstatOrNull(abs);
  if (!st) {
    try {
      mkdirSync(abs, { recursive: true, mode: 0o700 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new ConfigError(`cannot create ${abs} for fleetmasq's records: ${code ?? (e as Error).message} (run from a folder you can write, or set FLEETMASQ_STORE)`);
    }
    // Folders made on the way (FLEETMASQ_STORE=a/b/c.db) are checked as every other.
    checkAncestors(dirname(abs), me, abs);
    st = lstatSync(abs);
  }
  if (st.isSymbolicLink()) throw new ConfigError(`refusing ${abs}: it is a symbolic link; fleetmasq writes its records only into a real folder of your own (remove the link)`);
  if (!st.isDirectory()) throw new ConfigError(`refusing ${abs}: it is not a folder`);
  if (st.uid !== me) throw new ConfigError(`refusing ${abs}: it belongs to uid ${st.uid}, not to you (uid ${me}); another user could read or replace fleetmasq's records there (remove it, or run from a folder of your own)`);
  if ((st.mode & 0o022) !== 0) {
    if (!own) throw new ConfigError(`refusing to keep fleetmasq's records in ${abs}: it is writable by ${st.mode & 0o002 ? 'every user' : 'its group'} (name a folder of your own in FLEETMASQ_STORE)`);
    try {
      chmodSync(abs, 0o700);
    } catch (e) {
      throw new ConfigError(`cannot make ${abs} private (chmod 0700): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else if (own && (st.mode & 0o077) !== 0) chmodSync(abs, 0o700);
  return abs;
}

/** The device and inode of a path (not following a link), to see that what was checked is what was opened. */
export function identity(p: string): string | undefined {
  const st = lstatOrNull(p);
  return st ? `${st.dev}:${st.ino}` : undefined;
}

/**
 * A file fleetmasq is about to open inside its private folder: absent, or a regular file of the
 * running user's (not a link another process left there).
 */
export function checkOwnFile(file: string): void {
  const st = lstatOrNull(file);
  if (!st) return;
  if (st.isSymbolicLink()) throw new ConfigError(`refusing ${file}: it is a symbolic link; fleetmasq never writes through links (remove it)`);
  if (!st.isFile()) throw new ConfigError(`refusing ${file}: it is not a regular file`);
  if (st.uid !== uid()) throw new ConfigError(`refusing ${file}: it belongs to uid ${st.uid}, not to you (remove it)`);
}

/**
 * Creates `file` empty and 0600 when it does not exist (never through a link: O_EXCL | O_NOFOLLOW), so
 * the database, and the WAL files SQLite gives the same mode, are the running user's only.
 */
export function createPrivateFile(file: string): void {
  try {
    closeSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return checkOwnFile(file);
    throw new ConfigError(`cannot create ${file}: ${code ?? (e as Error).message}`);
  }
}
