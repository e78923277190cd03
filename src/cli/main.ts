/**
 * The CLI entry: returns an exit code, never calls process.exit. `--version` and the top help load
 * nothing more than they print (issue 28: they start within 1.5× of a bare node); every other command
 * goes through dispatch.ts, which loads that command's own modules only.
 */
import { EXIT } from '../errors.js';
import { stdio, type Out } from './output.js';
import { version } from './version.js';

export async function main(argv: string[], io: Out = stdio): Promise<number> {
  const cmd = argv[0];
  if (cmd === '--version' || cmd === '-V') {
    io.out(`fleetmasq ${version()}`);
    return EXIT.OK;
  }
  if (cmd === undefined || cmd === '-h' || cmd === '--help') {
    io.out((await import('./commands.js')).topHelp(version()));
    return EXIT.OK;
  }
  return (await import('./dispatch.js')).dispatch(argv, io);
}
