import { ConfigError } from '../errors.js';

/** A duration as operators write it: seconds (`90`), or `90s`, `30m`, `72h`, `2d`. In milliseconds. */
export function parseDuration(v: string, what: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(v.trim());
  if (!m || Number(m[1]) <= 0) throw new ConfigError(`${what} must be a duration like 90s, 30m, 72h or 2d (got '${v}')`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's']! * 1000;
}
