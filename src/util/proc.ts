import { spawn, type SpawnOptions } from 'node:child_process';

/**
 * The result of a local command; when it failed it is also an Error (the zx model), so it can be
 * thrown as is and still carry stdout, stderr and the exit status.
 */
export class ProcessOutput extends Error {
  constructor(
    public readonly command: string,
    public readonly exitCode: number | null,
    public readonly signal: NodeJS.Signals | null,
    public readonly stdout: string,
    public readonly stderr: string,
  ) {
    super(
      `${command} exited with ${signal ? `signal ${signal}` : `code ${exitCode}`}` +
        (stderr.trim() ? `: ${stderr.trim().split('\n').slice(-5).join(' | ')}` : ''),
    );
    this.name = 'ProcessOutput';
  }
  get ok(): boolean {
    return this.exitCode === 0;
  }
}

export interface RunOptions extends SpawnOptions {
  input?: string | Buffer;
  /** Resolve instead of reject on a non-zero exit. */
  nothrow?: boolean;
  timeoutMs?: number;
}

/** Runs a local program (no shell) and collects its output. */
export function run(cmd: string, args: string[] = [], opts: RunOptions = {}): Promise<ProcessOutput> {
  const { input, nothrow, timeoutMs, ...spawnOpts } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...spawnOpts, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new ProcessOutput([cmd, ...args].join(' '), null, null, stdout, `${stderr}${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const out = new ProcessOutput([cmd, ...args].join(' '), code, signal, stdout, stderr);
      if (code === 0 || nothrow) resolve(out);
      else reject(out);
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(input ?? '');
  });
}

/** Runs a bash script locally (for the lab's host-side plumbing). */
export function sh(script: string, opts: RunOptions = {}): Promise<ProcessOutput> {
  return run('bash', ['-euo', 'pipefail', '-c', script], opts);
}
