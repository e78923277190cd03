/**
 * The lab: real robots on this machine. Each robot is a systemd-nspawn container booting real systemd,
 * sshd and iptables on its own overlay of a cached Debian base, with its own host keys and address on a
 * bridge inside a network namespace that has no route out. The control side reaches the robots only
 * through the link relay's unix sockets (see relayd.ts), via an SSH ProxyCommand in the inventory.
 * Light robots (spec.ts, RobotForm) are a network namespace, an overlay root and one sshd each, with no
 * systemd: a thousand of them fit on this machine.
 *
 * This file is the lab's API (the CLI's `lab` commands, the tests and the benchmark use it): the state of
 * a lab (state.ts), how its robots are reached (access.ts), up.ts and down.ts, a robot's link and status.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { LabError } from '../src/errors.js';
import { labSsh } from './access.js';
import { alive, readPid, type LabState } from './state.js';

export { labSsh, labSshOptions, renderLabInventory, renderLabSshConfig } from './access.js';
export { labDown } from './down.js';
export type { Log } from './host.js';
export { STOCK_RC_LOCAL, USER_RULES_V4 } from './robot-files.js';
export { checkLabName, mixedSpec, parseLabSpec, uniformSpec, type LabSpec } from './spec.js';
export { listLabs, readLab, type LabRobotState, type LabState } from './state.js';
export { labUp, type UpOptions } from './up.js';

async function sendRelay(lab: LabState, msg: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = connect(lab.paths.ctlSocket);
    let buf = '';
    s.setTimeout(5000, () => (s.destroy(), reject(new LabError('relay control timed out'))));
    s.on('error', (e) => reject(new LabError(`relay not running: ${e.message}`)));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\n')) {
        s.end();
        resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
      }
    });
    s.write(JSON.stringify(msg) + '\n');
  });
}

export interface LinkChange {
  rttMs?: number;
  stall?: boolean;
  drop?: boolean;
}

/** Changes a robot's link at run time: latency, stall (nothing passes) or drop (connections cut). */
export async function labLink(lab: LabState, robot: string, change: LinkChange): Promise<Record<string, unknown>> {
  const res = await sendRelay(lab, { robot, ...change });
  if (!res.ok) throw new LabError(String(res.error));
  return res;
}

export interface RobotStatus {
  name: string;
  address: string;
  interface: string;
  power: 'running' | 'off' | 'unknown';
  boots: number;
  reachable: boolean;
  bootId?: string;
  error?: string;
}

/** Power state from the supervisor, reachability by an OpenSSH login that reads the boot_id. */
export async function labStatus(lab: LabState): Promise<RobotStatus[]> {
  const limit = pLimit(30);
  return Promise.all(
    lab.robots.map((r) =>
      limit(async (): Promise<RobotStatus> => {
        let power: RobotStatus['power'] = 'unknown';
        let boots = 0;
        try {
          const [st, n] = readFileSync(join(lab.paths.robotDir(r.name), 'state'), 'utf8').split(' ');
          power = st === 'running' ? 'running' : 'off';
          if (st === 'running') boots = Number(n);
        } catch {
          // No state file: the robot never started (power stays 'off').
        }
        const pid = readPid(join(lab.paths.robotDir(r.name), 'supervisor.pid'));
        if (!pid || !alive(pid)) power = power === 'running' ? 'off' : power;
        // A light robot is on while its sshd runs; it never boots again.
        if (r.form === 'light') {
          const sshd = readPid(join(lab.paths.robotDir(r.name), 'root', 'run', 'sshd.pid'));
          power = sshd && alive(sshd) ? 'running' : 'off';
          boots = power === 'running' ? 1 : 0;
        }
        const res = await labSsh(lab, r.name, 'cat /proc/sys/kernel/random/boot_id', { asRoot: false, nothrow: true, timeoutMs: 20_000 });
        const bootId = res.stdout.trim();
        return {
          name: r.name,
          address: r.address,
          interface: r.interface,
          power,
          boots,
          reachable: res.ok && /^[0-9a-f-]{36}$/.test(bootId),
          ...(res.ok ? { bootId } : { error: res.stderr.trim().split('\n').pop() }),
        };
      }),
    ),
  );
}
