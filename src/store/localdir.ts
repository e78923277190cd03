/**
 * Trust of local state: fleetmasq keeps its records (and retry file) only in a folder that is the
 * running user's own — never through a symbolic link, never in a folder another user owns or can write,
 * never in a world-writable folder without the sticky bit (where another user could swap it), as
 * Ansible refuses an ansible.cfg in a world-writable folder. A permission problem is a clear
 * ConfigError (exit 5), never a stack trace.
 */
import { chmodSync, closeSync, constants, lstatSync, mkdirSync, openSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
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

/** Why a folder on the way to the state folder cannot be trusted, or undefined when it can. */
export function untrustedParent(st: Stats, me = uid()): string | undefined {
  const worldWritable = (st.mode & 0o002) !== 0;
  const sticky = (st.mode & 0o1000) !== 0;
  if (worldWritable && !sticky) return 'is writable by every user (and not sticky): another user could replace what fleetmasq keeps there';
  if (st.uid !== me && st.uid !== 0 && (st.mode & 0o022) !== 0 && !sticky)
    return `belongs to uid ${st.uid} and others can write it: another user could replace what fleetmasq keeps there`;
  return undefined;
}

/**
 * Makes sure `dir` is a private folder of the running user (created 0700 when missing, tightened to
 * 0700 when it is ours) and returns its absolute path. Refuses a symbolic link, a folder of another
 * user, and a parent folder any user could swap it in.
 */
export function ensurePrivateDir(dir: string): string {
  const abs = resolve(dir);
  const parent = dirname(abs);
  const me = uid();
  let p = lstatOrNull(parent);
  if (!p) {
    try {
      mkdirSync(parent, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new ConfigError(`cannot create ${parent} for fleetmasq's records: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    p = lstatSync(parent);
  }
  const why = untrustedParent(p, me);
  if (why) throw new ConfigError(`refusing to keep fleetmasq's records in ${abs}: its folder ${parent} ${why}; run from a folder of your own or set FLEETMASQ_STORE`);
  let st = lstatOrNull(abs);
  if (!st) {
    try {
      mkdirSync(abs, { mode: 0o700 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new ConfigError(`cannot create ${abs} for fleetmasq's records: ${code ?? (e as Error).message} (run from a folder you can write, or set FLEETMASQ_STORE)`);
    }
    st = lstatSync(abs);
  }
  if (st.isSymbolicLink()) throw new ConfigError(`refusing ${abs}: it is a symbolic link; fleetmasq writes its records only into a real folder of your own (remove the link)`);
  if (!st.isDirectory()) throw new ConfigError(`refusing ${abs}: it is not a folder`);
  if (st.uid !== me) throw new ConfigError(`refusing ${abs}: it belongs to uid ${st.uid}, not to you (uid ${me}); another user could read or replace fleetmasq's records there (remove it, or run from a folder of your own)`);
  if ((st.mode & 0o077) !== 0) {
    try {
      chmodSync(abs, 0o700);
    } catch (e) {
      throw new ConfigError(`cannot make ${abs} private (chmod 0700): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return abs;
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
