/** Runs the CLI in-process (the same main() the binary runs) and captures its output and exit code. */
import { main } from '../../src/cli/main.js';

export async function cli(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string; json?: any }> {
  let stdout = '';
  let stderr = '';
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const code = await main(argv, {
      out: (s) => (stdout += s.endsWith('\n') ? s : `${s}\n`),
      err: (s) => (stderr += s.endsWith('\n') ? s : `${s}\n`),
      isTTY: false,
    });
    let json: any;
    if (argv.includes('--json')) {
      try {
        json = JSON.parse(stdout);
      } catch {}
    }
    return { code, stdout, stderr, json };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
