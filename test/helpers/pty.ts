/**
 * Runs a command in a real pseudo-terminal (python3's pty module, as a terminal emulator would) and
 * types into it when the screen shows something: Ctrl-C (\x03) makes the kernel's line discipline send
 * SIGINT to the terminal's foreground process group, exactly as a person at the keyboard does.
 */
import { spawnSync } from 'node:child_process';

const DRIVER = String.raw`
import fcntl, json, os, pty, re, select, signal, struct, sys, termios, time
argv = json.loads(sys.argv[1]); triggers = [(re.compile(a.encode()), b.encode()) for a, b in json.loads(sys.argv[2])]; timeout = float(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 50, 120, 0, 0))
buf = b''; deadline = time.time() + timeout; killed = False
while True:
    if time.time() > deadline:
        os.kill(pid, signal.SIGKILL); killed = True; break
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    buf += data
    if triggers and triggers[0][0].search(buf):
        os.write(fd, triggers.pop(0)[1])
_, status = os.waitpid(pid, 0)
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
print(json.dumps({'code': code, 'killed': killed, 'left': len(triggers), 'output': buf.decode('utf8', 'replace')}))
`;

export interface PtyStep {
  /** A regex over all output so far. */
  after: string;
  /** What to type then. */
  send: string;
}

export const CTRL_C = '\x03';

/** Runs argv in a pty; each step in turn types its text once its regex matches the output. */
export function runInPty(argv: string[], steps: PtyStep[], env: NodeJS.ProcessEnv, timeoutS = 120): { code: number; killed: boolean; untriggered: number; output: string } {
  const r = spawnSync('python3', ['-c', DRIVER, JSON.stringify(argv), JSON.stringify(steps.map((s) => [s.after, s.send])), String(timeoutS)], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`pty driver failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout) as { code: number; killed: boolean; left: number; output: string };
  // The screen as text: colours and cursor movements removed.
  const output = res.output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
  return { code: res.code, killed: res.killed, untriggered: res.left, output };
}
