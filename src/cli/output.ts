/** Terminal output helpers for the CLI layer only (the core never prints). */
export interface Out {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
}

export const stdio: Out = {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
  isTTY: Boolean(process.stdout.isTTY),
};

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
