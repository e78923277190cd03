/**
 * The hotspot daemon (runs inside the lab's network namespace): one HotspotModel per hotspot, each on
 * its own address of the lab bridge, UDP port 3478. Events (renewals) are appended to a JSON-lines log.
 * Usage: node hotspotd.js CONFIG.json
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { HotspotModel, type HotspotConfig } from './hotspot.js';

interface Config {
  log: string;
  hotspots: (HotspotConfig & { listen: string; port: number })[];
}

const cfg = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Config;
for (const h of cfg.hotspots) {
  const model = new HotspotModel(h, (e) => appendFileSync(cfg.log, JSON.stringify(e) + '\n'));
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const reply = model.receive(msg, rinfo);
    if (reply) sock.send(reply, rinfo.port, rinfo.address);
  });
  sock.on('error', (e) => appendFileSync(cfg.log, JSON.stringify({ hotspot: h.name, error: e.message }) + '\n'));
  sock.bind(h.port, h.listen);
}
