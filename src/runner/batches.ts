/**
 * Rollout batches (pure), as Ansible's `serial`: a number, a percentage, or a list whose last item
 * repeats (`[1, "25%"]`: a canary, then quarters). A percentage is of the whole fleet, at least 1.
 */
import { ConfigError } from '../errors.js';

export type SerialItem = { count: number } | { percent: number };

export function parseSerialItem(v: unknown): SerialItem {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return { count: v };
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^[0-9]+$/.test(s) && Number(s) > 0) return { count: Number(s) };
    const m = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(s);
    if (m && Number(m[1]) > 0 && Number(m[1]) <= 100) return { percent: Number(m[1]) };
  }
  throw new ConfigError(`invalid serial value ${JSON.stringify(v)}: a positive number or a percentage like 25%`);
}

/** From a flag (`1,25%`) or a playbook value (number, string or list). */
export function parseSerial(v: unknown): SerialItem[] {
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v)) return v.map(parseSerialItem);
  if (typeof v === 'string' && v.includes(',')) return v.split(',').map(parseSerialItem);
  return [parseSerialItem(v)];
}

export function planBatches<T>(hosts: T[], serial: SerialItem[]): T[][] {
  if (!serial.length) return hosts.length ? [hosts] : [];
  const out: T[][] = [];
  let i = 0;
  let k = 0;
  while (i < hosts.length) {
    const item = serial[Math.min(k, serial.length - 1)]!;
    const size = 'count' in item ? item.count : Math.max(1, Math.floor((hosts.length * item.percent) / 100));
    out.push(hosts.slice(i, i + size));
    i += size;
    k++;
  }
  return out;
}

/** Ansible: the batch's failure percentage must exceed max_fail_percentage to stop the rollout. */
export function exceedsMaxFail(failed: number, batchSize: number, maxFailPercent: number | undefined): boolean {
  if (maxFailPercent === undefined || batchSize === 0) return false;
  return (failed / batchSize) * 100 > maxFailPercent;
}
