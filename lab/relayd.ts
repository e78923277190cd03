/**
 * The lab's link emulator. It runs inside the lab's network namespace (started through nsenter) and
 * listens on one unix socket per robot in the host filesystem; unix sockets are not bound to a network
 * namespace, so an SSH ProxyCommand in the normal namespace (`socat STDIO UNIX-CONNECT:...`) reaches a
 * robot that has no route to the outside. Per robot it can add latency (each chunk is held for half the
 * RTT in each direction, order kept), stall the link (nothing passes until resumed) or drop it (every
 * open connection is closed at once). netem is not available in this kernel, so this is how the lab
 * plays a cellular link.
 *
 * Usage: node relayd.js CONFIG.json    (config: {sockDir, ctlSocket, robots: [{name, address, rttMs}]})
 * Control: JSON lines on ctlSocket: {"robot": "r1", "rttMs": 160} | {"robot":"r1","stall":true} |
 *          {"robot":"r1","drop":true} | {"ping":true}; each answered by one JSON line.
 */
import { createServer, connect, type Socket, type Server } from 'node:net';
import { readFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

interface RobotLink {
  name: string;
  address: string;
  rttMs: number;
  stalled: boolean;
  conns: Set<{ a: Socket; b: Socket; flush: () => void }>;
}

interface RelayConfig {
  sockDir: string;
  ctlSocket: string;
  robots: { name: string; address: string; rttMs: number; ports?: number[] }[];
}

/**
 * Forwards src -> dst, holding each chunk for the link's one-way delay, and while stalled. One FIFO
 * and one timer per direction: chunks leave in the order they came. (A timer per chunk, its delay
 * computed from the wall clock while Node counts it from the loop's cached clock, can fire before an
 * earlier chunk's; a reordered SSH stream fails its MAC.)
 */
function pump(src: Socket, dst: Socket, link: RobotLink): { flush: () => void; idle: () => boolean } {
  const held: Buffer[] = [];
  const queue: { due: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const drain = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      if (!dst.destroyed) dst.write(chunk);
    }
    if (queue.length) timer = setTimeout(drain, queue[0]!.due - now);
    else if (ended && !link.stalled && !held.length) dst.end();
  };
  const send = (chunk: Buffer) => {
    const oneWay = link.rttMs / 2;
    if (oneWay <= 0 && !queue.length) {
      dst.write(chunk);
      return;
    }
    queue.push({ due: Date.now() + Math.max(0, oneWay), chunk });
    if (!timer) timer = setTimeout(drain, queue[0]!.due - Date.now());
  };
  src.on('data', (chunk: Buffer) => {
    if (link.stalled) held.push(chunk);
    else send(chunk);
  });
  src.on('end', () => {
    ended = true;
    if (!link.stalled && !timer) drain();
  });
  return {
    flush: () => {
      while (held.length) send(held.shift()!);
      if (ended && !timer) drain();
    },
    idle: () => !queue.length && !held.length,
  };
}

function serveRobot(link: RobotLink, port: number, sockPath: string): Server {
  rmSync(sockPath, { force: true });
  const server = createServer((a) => {
    const b = connect({ host: link.address, port });
    const entry = { a, b, flush: () => {} };
    const toB = pump(a, b, link);
    const toA = pump(b, a, link);
    entry.flush = () => {
      toB.flush();
      toA.flush();
    };
    link.conns.add(entry);
    const kill = () => {
      link.conns.delete(entry);
      a.destroy();
      b.destroy();
    };
    // A side that closed cleanly leaves what it sent still in flight: the other side is ended by its
    // pump once that is delivered, not cut off.
    const closed = (other: Socket, toOther: { idle: () => boolean }) => (hadError: boolean) => {
      if (hadError || toOther.idle() || other.destroyed) kill();
    };
    a.on('error', kill).on('close', closed(b, toB));
    b.on('error', kill).on('close', closed(a, toA));
  });
  server.listen(sockPath);
  return server;
}

export function startRelay(config: RelayConfig): { close: () => void } {
  mkdirSync(config.sockDir, { recursive: true });
  const links = new Map<string, RobotLink>();
  const servers: Server[] = [];
  for (const r of config.robots) {
    const link: RobotLink = { name: r.name, address: r.address, rttMs: r.rttMs, stalled: false, conns: new Set() };
    links.set(r.name, link);
    for (const port of r.ports ?? [22]) servers.push(serveRobot(link, port, join(config.sockDir, `${r.address}-${port}`)));
  }
  rmSync(config.ctlSocket, { force: true });
  const ctl = createServer((s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('error', () => {});
    s.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        s.write(JSON.stringify(handle(line)) + '\n');
      }
    });
  });
  const handle = (line: string): unknown => {
    let msg: { robot?: string; rttMs?: number; stall?: boolean; drop?: boolean; ping?: boolean };
    try {
      msg = JSON.parse(line);
    } catch {
      return { ok: false, error: 'bad json' };
    }
    if (msg.ping) return { ok: true, robots: links.size };
    const link = msg.robot ? links.get(msg.robot) : undefined;
    if (!link) return { ok: false, error: `no robot ${msg.robot}` };
    if (typeof msg.rttMs === 'number') link.rttMs = msg.rttMs;
    if (typeof msg.stall === 'boolean') {
      const was = link.stalled;
      link.stalled = msg.stall;
      if (was && !msg.stall) for (const c of link.conns) c.flush();
    }
    if (msg.drop) for (const c of [...link.conns]) (c.a.destroy(), c.b.destroy());
    return { ok: true, robot: link.name, rttMs: link.rttMs, stalled: link.stalled, connections: link.conns.size };
  };
  ctl.listen(config.ctlSocket);
  return {
    close: () => {
      for (const s of servers) s.close();
      ctl.close();
    },
  };
}

// Entry point when run as a program.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as RelayConfig;
  const relay = startRelay(config);
  const stop = () => {
    relay.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`relayd ready ${config.robots.length}\n`);
}
