/** Terminal output helpers for the CLI layer only (the core never prints). */
export interface Out {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
}

/**
 * Text on its way to a terminal, made harmless: control characters (escape sequences that could
 * retitle the terminal, recolour or rewrite what is shown; carriage returns that overwrite a line) are
 * shown as \u00NN. Only newlines and tabs pass. Robots' interface names, error output, file lines and
 * diffs all reach the operator through here. The same form is a JSON escape, so a --json document stays
 * valid JSON (JSON.stringify leaves DEL and C1 characters raw).
 */
export function visible(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

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
