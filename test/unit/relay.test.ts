import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay } from '../../lab/relayd.js';

/** Blocks the event loop (the relay runs in this process), so chunks arrive in bursts. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('the lab relay delays a link, keeps its bytes in order, and delivers what is in flight when the sender closes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fm-relay-'));
  const received: Buffer[] = [];
  let firstAt = 0;
  const sink = createServer((s) => s.on('data', (d: Buffer) => (firstAt ||= performance.now(), received.push(d))));
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const port = (sink.address() as AddressInfo).port;
  const relay = startRelay({ sockDir: dir, ctlSocket: join(dir, 'ctl'), robots: [{ name: 'r', address: '127.0.0.1', rttMs: 20, ports: [port] }] });
  try {
    const c = connect(join(dir, `127.0.0.1-${port}`));
    await new Promise<void>((r) => c.on('connect', r));
    const n = 4000;
    const sentAt = performance.now();
    for (let i = 0; i < n; i++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(i);
      c.write(b);
      if (i % 20 === 19) {
        await new Promise((r) => setImmediate(r));
        busy(i % 3);
      }
    }
    c.end();
    for (let i = 0; i < 500 && Buffer.concat(received).length < n * 4; i++) await new Promise((r) => setTimeout(r, 20));
    const all = Buffer.concat(received);
    assert.equal(all.length, n * 4);
    for (let i = 0; i < n; i++) assert.equal(all.readUInt32BE(i * 4), i, `byte order broken at chunk ${i}`);
    assert.ok(firstAt - sentAt >= 9, `held for the one-way delay (${firstAt - sentAt} ms)`);
    c.destroy();
  } finally {
    relay.close();
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
