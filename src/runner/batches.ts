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

/** Why a rollout stopped before its next batch (typed; the message is derived from it). */
export type StopKind = 'all-failed' | 'canary' | 'canary-unproven' | 'max-fail' | 'interrupted';
export interface Stop {
  kind: StopKind;
  /** The batch after which the rollout stopped (1-based); absent for an interruption before any batch. */
  batch?: number;
  failed?: number;
  size?: number;
  maxFailPercent?: number;
}

export interface StopRules {
  maxFailPercent?: number;
  /** The first batch is a canary: any failure in it stops the rollout. */
  canary: boolean;
}

/**
 * The first batch of a `serial` list (`1,25%`) is a canary unless the operator chose a failure
 * threshold: an explicit max-fail-percent then decides alone.
 */
export function stopRules(serial: SerialItem[], maxFailPercent: number | undefined): StopRules {
  return { maxFailPercent, canary: serial.length > 1 && maxFailPercent === undefined };
}

/** How a batch went: robots that failed (or were unreachable), robots that completed (ok or changed). */
export interface BatchCounts {
  failed: number;
  succeeded: number;
  size: number;
}

/**
 * Whether to stop before the next batch (pure). In order: a batch in which every robot failed stops
 * the rollout (Ansible's rule, whatever max-fail-percent says); a failure in the canary batch, or a
 * canary batch that proved nothing (every robot skipped: none completed); more than max-fail-percent of
 * a batch failed.
 */
export function stopAfterBatch(index: number, c: BatchCounts, rules: StopRules): Stop | undefined {
  const batch = index + 1;
  const { failed, size } = c;
  if (size > 0 && failed === size) return { kind: 'all-failed', batch, failed, size };
  if (rules.canary && index === 0 && failed > 0) return { kind: 'canary', batch, failed, size };
  if (rules.canary && index === 0 && c.succeeded === 0) return { kind: 'canary-unproven', batch, failed, size };
  if (exceedsMaxFail(failed, size, rules.maxFailPercent)) return { kind: 'max-fail', batch, failed, size, maxFailPercent: rules.maxFailPercent };
  return undefined;
}

export function stopMessage(s: Stop): string {
  switch (s.kind) {
    case 'all-failed':
      return `batch ${s.batch}: every robot failed (${s.failed} of ${s.size}): later batches not started`;
    case 'canary':
      return `the canary batch failed (${s.failed} of ${s.size} robot${s.size === 1 ? '' : 's'}): later batches not started (give --max-fail-percent to set a threshold instead)`;
    case 'canary-unproven':
      return `the canary batch proved nothing (none of its ${s.size} robot${s.size === 1 ? '' : 's'} completed: see why each was skipped): later batches not started`;
    case 'max-fail':
      return `batch ${s.batch}: ${s.failed} of ${s.size} robots failed, more than max fail ${s.maxFailPercent}%: later batches not started`;
    case 'interrupted':
      return 'interrupted: later robots not started';
  }
}
