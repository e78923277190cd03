import { mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { FACT_READS } from '../../src/facts/facts.js';
import { BOOT_ID_PATH, UPTIME_PATH } from '../../src/remote/paths.js';

/**
 * Stub commands for the fast tier (robot shell under a real sh in a sandbox): systemctl keeps the
 * enable symlinks under $SANDBOX/root as systemd would, and logs each call to $SANDBOX/systemctl.log.
 */
export const SYSTEMCTL = `#!/bin/sh
echo "$*" >> "$SANDBOX/systemctl.log"
for a; do last=$a; done
w="$SANDBOX/root/etc/systemd/system/multi-user.target.wants"
case "$1" in
  enable) mkdir -p "$w"; ln -sf "../$last" "$w/$last";;
  disable) rm -f "$w/$last";;
  is-enabled) if [ -L "$w/$last" ]; then echo enabled; else echo disabled; exit 1; fi;;
  show) printf 'LoadState=loaded\\nNeedDaemonReload=no\\n';;
esac
exit 0
`;

/** The robot's file tree the sandbox holds under its root: change scripts' and facts' paths there are moved into it. */
const FILE_TREE = /(?<![\w/.-])\/(etc|run|var|usr\/local\/lib|usr\/local\/bin|usr\/lib|usr\/sbin|usr\/share|usr\/bin|lib|sbin)\//g;
/** The kernel's files (/proc, /sys): the sandbox has only those the facts declare, with the content below. */
const KERNEL_PATH = /^\/(proc|sys)\//;
/**
 * Kernel paths a script may read from the machine itself: the sandbox's processes and clock are the
 * machine's (a lock's monotonic clock, a lock holder's start time by its pid: `/proc/$pid/stat`).
 */
const LIVE = [UPTIME_PATH];

/**
 * A fast-tier robot's kernel files, by path (null: a robot may lack it, and this one does). Each kernel
 * path a fact section declares in its `reads` needs an entry here (or in sandboxRoot's `kernel`).
 */
export function kernelFiles(systemd: boolean): Record<string, string | null> {
  return {
    '/proc/1/comm': systemd ? 'systemd\n' : 'init\n',
    '/proc/self/status': 'Name:\tsh\nUid:\t0\t0\t0\t0\n',
    [BOOT_ID_PATH]: `${randomUUID()}\n`,
    '/proc/net/ip_tables_names': null,
    '/proc/sys/net/ipv4/ip_forward': '1\n',
    '/proc/mounts': 'sysfs /sys sysfs rw 0 0\n/dev/sda2 / ext4 rw,relatime 0 0\ntmpfs /run tmpfs rw,nosuid 0 0\n',
    '/proc/cmdline': 'console=ttyS0 root=/dev/sda2 rw\n',
  };
}

export interface SandboxOptions {
  /** The robot paths its scripts read (default: the facts' declared reads, FACT_READS). */
  reads?: readonly string[];
  /** Kernel files to have instead of (or beside) kernelFiles()'s. */
  kernel?: Record<string, string | null>;
}

/**
 * A fast-tier robot's root under `dir/root` (its /etc/systemd/system, /run, and each kernel file the facts
 * read, at its own path), and `dir/bin` for the stub commands. A declared path the sandbox cannot hold
 * (a kernel file it has no content for, a path outside the file tree it maps) is an error here, at once.
 */
export function sandboxRoot(dir: string, systemd: boolean, o: SandboxOptions = {}): string {
  const root = join(dir, 'root');
  for (const d of ['bin', 'root/etc/systemd/system', 'root/run']) mkdirSync(join(dir, d), { recursive: true });
  const kernel = { ...kernelFiles(systemd), ...o.kernel };
  for (const p of o.reads ?? FACT_READS) {
    if (!KERNEL_PATH.test(p)) {
      if (!new RegExp(FILE_TREE.source).test(p)) throw new Error(`a fact reads ${p}, outside the robot file tree the fast-tier sandbox maps (FILE_TREE, test/helpers/stubs.ts)`);
      continue;
    }
    if (!(p in kernel)) throw new Error(`a fact reads ${p}: the fast-tier sandbox has no content for it (kernelFiles in test/helpers/stubs.ts, or sandboxRoot's kernel option)`);
    const content = kernel[p];
    if (content === null || content === undefined) continue;
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), content);
  }
  return root;
}

/**
 * A robot script with the robot's paths moved into the sandbox's root (the file tree, and each kernel
 * file the facts declare), and the stubs first on its PATH. Any other kernel path left in the script
 * would be the machine's own: an error, never read.
 */
export function placeInSandbox(script: string, dir: string, root: string, reads: readonly string[] = FACT_READS): string {
  let out = script.replace(/PATH=\S+/g, `PATH=${dir}/bin:/usr/bin:/bin`);
  const kernel = reads.filter((p) => KERNEL_PATH.test(p)).sort((a, b) => b.length - a.length);
  for (const p of kernel) out = out.replace(new RegExp(`(?<![\\w/.-])${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w/.-])`, 'g'), `${root}${p}`);
  out = out.replace(FILE_TREE, `${root}/$1/`);
  for (const m of out.matchAll(/(?<![\w/.-])\/(?:proc|sys)\/[^\s"'`;|&)<>]*/g)) {
    if (!LIVE.includes(m[0]) && !m[0].startsWith('/proc/$')) throw new Error(`the script reads ${m[0]}, which no fact declares (a section's reads): in the sandbox it would be the machine's own`);
  }
  return out;
}

/** A simulated reboot's new boot id, where the sandbox's facts read it. */
export function newBootId(root: string): void {
  writeFileSync(join(root, BOOT_ID_PATH), `${randomUUID()}\n`);
}
