/** Terminal output helpers for the CLI layer only (the core never prints). */
export interface Out {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
}

import { visible } from '../util/sanitize.js';

/** Text on its way to a terminal, made harmless (the one sanitiser, src/util/sanitize.ts). */
export { visible };

/**
 * stdout read by a pipe that closes early (`fleetmasq config | head -3`): the rest of the output is
 * dropped quietly (no EPIPE stack trace), and the command still finishes what it was doing (a fleet run
 * piped to head must not stop halfway through a rollout).
 */
let stdoutGone = false;
let guarded = false;
function writeOut(s: string): void {
  if (!guarded) {
    guarded = true;
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      stdoutGone = true;
      if (e.code !== 'EPIPE') process.stderr.write(`error: cannot write to standard output: ${e.code ?? e.message}\n`);
    });
  }
  if (!stdoutGone) process.stdout.write(s);
}

export const stdio: Out = {
  out: (s) => writeOut(visible(s.endsWith('\n') ? s : `${s}\n`)),
  err: (s) => process.stderr.write(visible(s.endsWith('\n') ? s : `${s}\n`)),
  isTTY: Boolean(process.stdout.isTTY),
};

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
