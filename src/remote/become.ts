/** The command line a robot's sshd runs for one of fleetmasq's scripts. */
import { shQuote } from './quote.js';

/** The remote command: the script for `sh -c`, through sudo when it becomes (with a prompt only when a password will answer it). */
export function commandLine(script: string, become?: { user: string; prompt?: string }): string {
  const sh = `sh -c ${shQuote(script)}`;
  if (!become) return sh;
  const u = shQuote(become.user);
  return become.prompt !== undefined ? `sudo -H -S -p ${shQuote(become.prompt)} -u ${u} -- ${sh}` : `sudo -H -n -u ${u} -- ${sh}`;
}
