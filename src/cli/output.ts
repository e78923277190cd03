/** Terminal output helpers for the CLI layer only (the core never prints). */
export interface Out {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
}

import { visible } from '../util/sanitize.js';

/** Text on its way to a terminal, made harmless (the one sanitiser, src/util/sanitize.ts). */
export { visible };

export const stdio: Out = {
  out: (s) => process.stdout.write(visible(s.endsWith('\n') ? s : `${s}\n`)),
  err: (s) => process.stderr.write(visible(s.endsWith('\n') ? s : `${s}\n`)),
  isTTY: Boolean(process.stdout.isTTY),
};

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
