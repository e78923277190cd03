/**
 * Hooks for the nftables backend (pure). fleetmasq's own nftables table survives every tool that rewrites
 * only iptables' nat table (iptables-restore, netfilter-persistent, ufw) and firewalld's own tables; what
 * takes it is a ruleset flush: nftables.service's conf (`flush ruleset`, Debian's default). So the only
 * hook is a drop-in for nftables.service that makes the table again after each start, restart and reload;
 * fleetmasq's own file (src/remote/files/hooks.ts: renderNftTableDropIn), at the same path as the
 * iptables backend's, deleted by remove.
 */
import type { HookManager, ManagerFacts, RemoteFile } from '../facts/managers.js';
import type { HookState } from './hooks.js';
import { desiredNftHook } from '../remote/files/hooks.js';

/** The managers whose flush takes fleetmasq's nftables table. */
export const NFT_FLUSHERS: readonly HookManager[] = ['nftables'];

export function nftHookState(spec: string, current?: RemoteFile): HookState {
  if (!current) return { ok: false, why: 'missing' };
  const want = desiredNftHook(spec);
  return want.content === current.content && want.mode === current.mode ? { ok: true } : { ok: false, why: 'stale' };
}

/** The managers present that flush fleetmasq's nftables table, with their hook files as they are. */
export function presentNftFlushers(m: ManagerFacts): { manager: HookManager; hook?: RemoteFile }[] {
  return NFT_FLUSHERS.filter((k) => m[k]).map((k) => ({ manager: k, hook: m[k]!.hook }));
}
