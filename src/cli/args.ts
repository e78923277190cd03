import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';

export function intFlag(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`--${name} must be an integer from ${min} to ${max} (got '${v}')`);
  return n;
}

/** A report's path is checked before any robot is contacted: its folder must exist and be writable. */
export function checkWritable(flag: string, file: string): void {
  const dir = dirname(resolve(file));
  try {
    if (!statSync(dir).isDirectory()) throw new ConfigError(`--${flag} ${file}: ${dir} is not a directory`);
    accessSync(dir, constants.W_OK);
    if (existsSync(file) && statSync(file).isDirectory()) throw new ConfigError(`--${flag} ${file}: is a directory`);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`--${flag} ${file}: cannot write there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
