/** Asks for a secret on the terminal without echoing it (for -K). */
import { openSync, readSync, writeSync, closeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '../errors.js';

export function askSecret(prompt: string): string {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    throw new ConfigError('-K/--ask-become-pass needs a terminal; set FLEETMASQ_BECOME_PASSWORD instead');
  }
  try {
    writeSync(fd, prompt);
    spawnSync('stty', ['-echo'], { stdio: [fd, 'ignore', 'ignore'] });
    let s = '';
    const buf = Buffer.alloc(1);
    while (readSync(fd, buf, 0, 1, null) === 1) {
      const c = buf.toString('utf8');
      if (c === '\n' || c === '\r') break;
      s += c;
    }
    return s;
  } finally {
    spawnSync('stty', ['echo'], { stdio: [fd, 'ignore', 'ignore'] });
    writeSync(fd, '\n');
    closeSync(fd);
  }
}
