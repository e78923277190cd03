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
    // Echo off before the prompt shows: a person who types as soon as it appears is not echoed.
    spawnSync('stty', ['-echo'], { stdio: [fd, 'ignore', 'ignore'] });
    writeSync(fd, prompt);
    // Bytes first, decoded once at the end: a character of a non-ASCII password spans several bytes.
    const bytes: number[] = [];
    const buf = Buffer.alloc(1);
    while (readSync(fd, buf, 0, 1, null) === 1) {
      if (buf[0] === 0x0a || buf[0] === 0x0d) break;
      bytes.push(buf[0]!);
    }
    return Buffer.from(bytes).toString('utf8');
  } finally {
    spawnSync('stty', ['echo'], { stdio: [fd, 'ignore', 'ignore'] });
    writeSync(fd, '\n');
    closeSync(fd);
  }
}
