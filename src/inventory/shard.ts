/**
 * --shard I/N: a deterministic share of the selected robots, so an existing runner (a Kubernetes
 * Indexed Job, a CI matrix) splits a large fleet over N controllers. A robot's shard is a stable hash of
 * its inventory name alone (FNV-1a, 32 bit), so it does not move when other robots join or leave the
 * fleet, and every controller computes the same split without talking to the others.
 */
import { ConfigError } from '../errors.js';

export interface Shard {
  /** 1..count */
  index: number;
  count: number;
}

export function parseShard(v: string): Shard {
  const m = /^([1-9][0-9]{0,5})\/([1-9][0-9]{0,5})$/.exec(v.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || index > count) throw new ConfigError(`--shard must be I/N with 1 <= I <= N, e.g. 1/4 (got '${v}'); in a Kubernetes Indexed Job: --shard $((JOB_COMPLETION_INDEX + 1))/N`);
  return { index, count };
}

/** FNV-1a over the name's UTF-8 bytes: small, fast, the same on every controller and Node version. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function shardOf(name: string, count: number): number {
  return (nameHash(name) % count) + 1;
}

/** The robots of `hosts` in shard `s`, in their order. */
export function inShard(hosts: string[], s: Shard): string[] {
  return hosts.filter((h) => shardOf(h, s.count) === s.index);
}
