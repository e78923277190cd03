/**
 * Hooks beside the firewall managers that flush the nat table (pure planning): which managers need one,
 * and whether each hook is in place. The hook files themselves (what each manager runs, and how a file
 * fleetmasq edits keeps every other byte) are src/remote/files/hooks.ts's; firewalld's direct rules,
 * src/remote/firewalld.ts's.
 */
import type { HookManager, ManagerFacts, RemoteFile } from '../facts/managers.js';
import { HOOK_MANAGERS } from '../facts/managers.js';
import { directArgs, directRules } from '../remote/firewalld.js';
import { desiredHook, hasHookBlock, OWN_FILE } from '../remote/files/hooks.js';
import { ifaceList } from './rule.js';

export type HookState = { ok: true } | { ok: false; why: 'missing' | 'stale' | 'damaged'; detail?: string };

/** Whether a manager's hook is in place for the interface. */
export function hookState(manager: HookManager, iface: string, current?: RemoteFile): HookState {
  if (!current) return { ok: false, why: 'missing' };
  if (manager === 'firewalld') {
    const missing = firewalldMissing(iface, current);
    return !missing.length ? { ok: true } : missing.length === ifaceList(iface).length ? { ok: false, why: 'missing' } : { ok: false, why: 'stale' };
  }
  const want = desiredHook(manager, iface, current);
  if ('error' in want) return { ok: false, why: 'damaged', detail: want.error };
  if (OWN_FILE[manager]) return want.content === current.content && want.mode === current.mode ? { ok: true } : { ok: false, why: 'stale' };
  if (!hasHookBlock(current.content)) return { ok: false, why: 'missing' };
  return want.content === current.content && want.mode === current.mode ? { ok: true } : { ok: false, why: 'stale' };
}

/** The managers present on the robot that flush the nat table, with their hook files as they are. */
export function presentManagers(m: ManagerFacts): { manager: HookManager; hook?: RemoteFile }[] {
  return HOOK_MANAGERS.filter((k) => m[k]).map((k) => ({ manager: k, hook: m[k]!.hook }));
}

/** fleetmasq's hook files on the robot, its manager installed or not (remove takes them all). */
export function foundHooks(m: ManagerFacts): { manager: HookManager; hook: RemoteFile }[] {
  return HOOK_MANAGERS.flatMap((k) => {
    const hook = m[k]?.hook ?? m.hooks?.[k];
    return hook ? [{ manager: k, hook }] : [];
  });
}

// ---- firewalld: through its own interface (src/remote/firewalld.ts), rules found by content ----

/** The interfaces of the list whose rule firewalld's permanent direct rules lack. */
export function firewalldMissing(spec: string, current?: RemoteFile): string[] {
  const have = new Set(current ? directRules(current.content).map((r) => r.args) : []);
  return ifaceList(spec).filter((i) => !have.has(directArgs(i)));
}

/** The permanent direct rules to take out for these interfaces (whatever their priority). */
export function firewalldFound(ifaces: string[], current?: RemoteFile): { iface: string; priority: number }[] {
  if (!current) return [];
  const rules = directRules(current.content);
  return ifaces.flatMap((iface) => rules.filter((r) => r.args === directArgs(iface)).map((r) => ({ iface, priority: r.priority })));
}
