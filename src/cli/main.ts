/**
 * The CLI entry: returns an exit code, never calls process.exit. `--version` and the top help load
 * nothing more than they print (issue 28: they start within 1.5× of a bare node): output.ts and, for
 * help, commands.ts. Every other command goes through dispatch.ts, which loads that command's modules only.
 */
import type { Out } from './output.js';
import { version } from './version.js';

export async function main(argv: string[], io?: Out): Promise<number> {
  const cmd = argv[0];
  const out = io ?? (await import('./output.js')).stdio;
  if (cmd === '--version' || cmd === '-V') {
    out.out(`fleetmasq ${version()}`);
    return 0; // EXIT.OK (src/errors.ts), not imported for this
  }
  if (cmd === undefined || cmd === '-h' || cmd === '--help') {
    out.out((await import('./commands.js')).topHelp(version()));
    return 0;
  }
  return (await import('./dispatch.js')).dispatch(argv, out);
}
