/**
 * A robot on this machine for the fast tier: a real SSH server (ssh2) on 127.0.0.1 whose commands run
 * under the real /bin/sh, with a folder of stub commands first on PATH (as test/unit/scripts.test.ts
 * does for robot shell). What the robot prints is what those commands print.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export interface ShellRobot {
  dir: string;
  port: number;
  knownHosts: string;
  /** Commands the robot ran. */
  commands: string[];
  close: () => Promise<void>;
}

/** Starts the robot; `stubs` are shell scripts by command name (sudo, iptables…). */
export async function startShellRobot(stubs: Record<string, string>): Promise<ShellRobot> {
  const dir = mkdtempSync(join(tmpdir(), 'fmrobot-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')]);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const [name, body] of Object.entries(stubs)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const commands: string[] = [];
  const server = new ssh2.Server({ hostKeys: [readFileSync(join(dir, 'hostkey'))] }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('ready', () =>
      client.on('session', (accept) =>
        accept().on('exec', (acc, _rej, info) => {
          const ch = acc();
          commands.push(info.command);
          const child = spawn('/bin/sh', ['-c', info.command], { env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir } });
          ch.pipe(child.stdin);
          child.stdin.on('error', () => {});
          child.stdout.pipe(ch, { end: false });
          child.stderr.pipe(ch.stderr, { end: false });
          child.on('close', (code) => {
            ch.exit(code ?? 1);
            ch.end();
          });
        }),
      ),
    );
    client.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const pub = readFileSync(join(dir, 'hostkey.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${pub}\n`);
  return { dir, port, knownHosts, commands, close: () => new Promise((r) => server.close(() => r())) };
}
