/**
 * Each typed operation (src/modules/ops.ts's Operation) as its step of the one change script: the shell
 * that makes it on a robot. The words and diffs shown for the same operation are src/modules/ops.ts's.
 */
import type { Operation } from '../modules/ops.js';
import { NFT_TABLE, ruleArgs } from '../modules/rule.js';
import { HOOK_PATH, NEEDS_DAEMON_RELOAD } from './files/hooks.js';
import { renderUnit } from './files/unit.js';
import { firewalldDirectSh } from './firewalld.js';
import { MARKER, MARKER_DIR, RC_LOCAL, UNIT_NAME, UNIT_PATH, WANTS_LINK } from './paths.js';
import { ensureNftSh, ensureRuleSh } from './rule.js';
import { b64, shQuote, type Step } from './script.js';

/** The shell that writes a file on a robot: atomic (temp file, rename) and durable (synced before and after). */
export function writeFile(path: string, content: string, mode: number): string {
  return `fm_write ${shQuote(path)} ${mode.toString(8).padStart(4, '0')} ${shQuote(b64(content))}`;
}

/** Every copy of the rule on an interface deleted (in iptables, or in the other backend's `tool`). */
export function deleteRuleSh(iface: string, tool = 'iptables'): string {
  const rule = ruleArgs(iface);
  return `while ${tool} -w -t nat -C ${rule} 2>/dev/null; do ${tool} -w -t nat -D ${rule}; done`;
}

/** Reloads systemd only if its view of our unit differs from the file on disk. */
export const RELOAD_IF_STALE = `case "$(systemctl show -p LoadState -p NeedDaemonReload ${UNIT_NAME} 2>/dev/null | sort | tr '\\n' ' ')" in
  'LoadState=loaded NeedDaemonReload=no ') ;;
  *) systemctl daemon-reload ;;
esac`;

/** The operation as one step of the change script. */
export function stepOf(op: Operation): Step {
  const name =
    op.kind === 'marker-remove' ? 'marker' : op.kind === 'hook' || op.kind === 'hook-remove' ? `${op.kind}-${op.manager}` : op.kind === 'firewalld-direct' ? (op.add.length ? 'hook-firewalld' : 'hook-remove-firewalld') : op.kind;
  return { name, sh: shellOf(op) };
}

function shellOf(op: Operation): string {
  switch (op.kind) {
    case 'unit':
      return [
        ...(op.write ? [writeFile(UNIT_PATH, renderUnit(op.iface, op.ruleBackend), 0o644)] : []),
        // Enabling is the [Install] symlink; the next boot is what it is for: no reload here.
        // The enable symlink is made durable like every write (a power cut must not keep the unit and lose its enable).
        ...(op.enable ? [`systemctl enable --quiet --no-reload ${UNIT_NAME}`, `fm_sync ${WANTS_LINK.slice(0, WANTS_LINK.lastIndexOf('/'))}`] : []),
        // A manager reload costs ~0.1 s of CPU in the robot's PID 1, so only when systemd's view of the
        // unit is not what is on disk (an old definition, or a unit still active whose file had been
        // deleted); a new unit is simply loaded from disk on demand.
        ...(op.write ? [RELOAD_IF_STALE] : []),
      ].join('\n');
    case 'unit-remove':
      return op.systemd
        ? // Stopped first (it has no ExecStop: the rule stays until deleted below), so systemd does not
          // keep a phantom active unit without a file after the reload.
          `systemctl stop --quiet ${UNIT_NAME} 2>/dev/null || true\nsystemctl disable --quiet --no-reload ${UNIT_NAME} 2>/dev/null || true\nrm -f ${UNIT_PATH}\nfm_sync ${WANTS_LINK.slice(0, WANTS_LINK.lastIndexOf('/'))}\nfm_sync /etc/systemd/system\nsystemctl daemon-reload`
        : `rm -f ${UNIT_PATH} /etc/systemd/system/*.wants/${UNIT_NAME}\nfm_sync /etc/systemd/system`;
    case 'rclocal':
      return writeFile(op.path, op.after.content, op.after.mode);
    case 'rclocal-restore':
      return op.after ? writeFile(op.path, op.after.content, op.after.mode) : `rm -f ${RC_LOCAL}\nfm_sync /etc`;
    case 'rule':
      return ensureRuleSh(op.iface);
    case 'nft-table':
      return ensureNftSh(op.iface);
    case 'nft-table-remove':
      return `if nft list table ${NFT_TABLE} >/dev/null 2>&1; then nft delete table ${NFT_TABLE}; fi`;
    case 'dedupe': {
      const rule = ruleArgs(op.iface);
      return `n=$(iptables -w -t nat -S POSTROUTING | grep -cxF -- ${shQuote(`-A ${rule}`)} || true)\nwhile [ "$n" -gt 1 ]; do iptables -w -t nat -D ${rule}; n=$((n-1)); done`;
    }
    case 'rule-move':
      return deleteRuleSh(op.from);
    case 'rule-delete':
      return deleteRuleSh(op.iface);
    case 'rule-delete-other':
      return deleteRuleSh(op.iface, op.tool);
    case 'marker-remove':
      return `rm -f ${MARKER}; rmdir ${MARKER_DIR} 2>/dev/null || true`;
    case 'hook': {
      const p = HOOK_PATH[op.manager];
      const dir = p.slice(0, p.lastIndexOf('/'));
      return [
        `mkdir -p ${shQuote(dir)}`,
        writeFile(p, op.after.content, op.after.mode),
        ...(NEEDS_DAEMON_RELOAD[op.manager] && op.systemd ? ['systemctl daemon-reload'] : []),
      ].join('\n');
    }
    case 'firewalld-direct':
      return firewalldDirectSh(op.add, op.remove);
    case 'hook-remove': {
      const p = HOOK_PATH[op.manager];
      const dir = p.slice(0, p.lastIndexOf('/'));
      return [
        op.after ? writeFile(p, op.after.content, op.after.mode) : `rm -f ${shQuote(p)}\nfm_sync ${shQuote(dir)}`,
        // A drop-in directory fleetmasq made goes with its last file.
        ...(NEEDS_DAEMON_RELOAD[op.manager] ? [`rmdir ${shQuote(dir)} 2>/dev/null || true`] : []),
        ...(NEEDS_DAEMON_RELOAD[op.manager] && op.systemd ? ['systemctl daemon-reload'] : []),
      ].join('\n');
    }
  }
}
