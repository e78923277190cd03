/**
 * How a robot is rebooted and how its boot is told apart: fleetmasq's own commands, or the operator's
 * (masquerade_reboot_command / masquerade_boot_id_command, or the playbook reboot module's Ansible-named
 * reboot_command / boot_time_command) for robots that reboot their own way (a vendor tool, a delayed
 * `shutdown -r`). An operator's command is a plain command line: words of safe characters separated by
 * spaces, no shell syntax at all (no quotes, variables, substitutions, globs, redirections, `;` or `|`);
 * each word reaches the robot quoted, as one argument. A wrapper script on the robot does anything more.
 */
import { BOOT_ID_PATH, BOOT_ID_RE } from './paths.js';
import { shQuote } from './quote.js';
import { ENV_SH, lockSh, unlockSh, type LockSpec } from './script.js';

/** One word of an operator's command: letters, digits and _ . / : = + , @ - (so `shutdown -r +0`, `/opt/vendor/reboot --now`). */
export const COMMAND_WORD = '[A-Za-z0-9_./:=+,@-]+';
/** A whole command line (schema pattern): words separated by single spaces, 1 to 256 characters. */
export const COMMAND_PATTERN = `^(?=.{1,256}$)${COMMAND_WORD}( ${COMMAND_WORD})*$`;
const COMMAND_RE = new RegExp(COMMAND_PATTERN);

/** The words of an operator's command, or undefined when it is not a plain command line. */
export function commandWords(cmd: unknown): string[] | undefined {
  return typeof cmd === 'string' && COMMAND_RE.test(cmd) ? cmd.split(' ') : undefined;
}

/** What a command line may hold, for error messages. */
export const COMMAND_RULE = 'a plain command line: words of letters, digits and _ . / : = + , @ - separated by single spaces (no quotes, $, ;, |, globs or redirections; a wrapper script on the robot does anything more), at most 256 characters';

const quoted = (words: string[]) => words.map(shQuote).join(' ');

/**
 * The shell that starts the reboot 1 s from now, detached, so that the SSH command returns before the
 * link goes down: a systemd timer (systemd-run) on systemd robots, a background sh elsewhere.
 */
export function startRebootSh(systemd: boolean, words?: string[]): string {
  if (!words) return systemd ? 'systemd-run --quiet --on-active=1 --timer-property=AccuracySec=100ms /bin/systemctl reboot' : 'nohup sh -c "sleep 1; reboot" >/dev/null 2>&1 &';
  // The words as arguments, never as shell text: systemd-run passes them on as the unit's argv; sh runs "$0" "$@".
  return systemd
    ? `systemd-run --quiet --on-active=1 --timer-property=AccuracySec=100ms -- ${quoted(words)}`
    : `nohup sh -c 'sleep 1; exec "$0" "$@"' ${quoted(words)} >/dev/null 2>&1 &`;
}

/**
 * The one command that reboots a robot: scheduled 1 s ahead, detached (startRebootSh), with PATH and
 * working directory fixed as for every other root command (ENV_SH). With a lock, it is held until the
 * robot goes down (it lives in /run, which the boot clears); a reboot that could not be started lets go
 * of it at once.
 */
export function rebootScript(systemd: boolean, words: string[] | undefined, lock?: LockSpec): string {
  const cmd = `${ENV_SH}\n${startRebootSh(systemd, words)}`;
  if (!lock) return `set -e\n${cmd}`;
  return `set -e\n${lockSh(lock)}\n{ ${cmd}\n} || { fm_rc=$?; ${unlockSh(lock.runId)}\nexit $fm_rc; }`;
}

/** The shell that prints the robot's boot id (its kernel's, or the operator's command's first line). */
export function bootIdSh(words?: string[]): string {
  return words ? quoted(words) : `cat ${BOOT_ID_PATH}`;
}

/** A boot id as read: the kernel's is a UUID; an operator's command may print any one line of 1-200 printable characters. */
export function wellFormedBootId(id: string, custom: boolean): boolean {
  return custom ? /^[\x21-\x7e][\x20-\x7e]{0,199}$/.test(id) : BOOT_ID_RE.test(id);
}
