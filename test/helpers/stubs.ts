import { mkdirSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

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

/**
 * A fast-tier robot's root under `dir/root` (its /etc/systemd/system, /run and the /proc files the facts
 * read: init's name, the shell's uid 0, a fresh boot id), and `dir/bin` for the stub commands.
 */
export function sandboxRoot(dir: string, systemd: boolean): string {
  const root = join(dir, 'root');
  for (const d of ['bin', 'root/etc/systemd/system', 'root/run', 'root/proc']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(root, 'proc/comm'), systemd ? 'systemd\n' : 'init\n');
  writeFileSync(join(root, 'proc/status'), 'Name:\tsh\nUid:\t0\t0\t0\t0\n');
  writeFileSync(join(root, 'proc/boot_id'), `${randomUUID()}\n`);
  return root;
}

/** A robot script with the robot's paths moved into the sandbox's root, and the stubs first on its PATH. */
export function placeInSandbox(script: string, dir: string, root: string): string {
  return script
    .replace(/PATH=\S+/g, `PATH=${dir}/bin:/usr/bin:/bin`)
    .replaceAll('/proc/sys/kernel/random/boot_id', `${root}/proc/boot_id`)
    .replaceAll('/proc/1/comm', `${root}/proc/comm`)
    .replaceAll('/proc/self/status', `${root}/proc/status`)
    .replaceAll('/proc/net/', `${root}/proc/net/`)
    .replace(/(?<![\w/.-])\/(etc|run|var|usr\/local\/lib|usr\/local\/bin|usr\/lib|usr\/sbin|usr\/share|usr\/bin|lib|sbin)\//g, `${root}/$1/`);
}
