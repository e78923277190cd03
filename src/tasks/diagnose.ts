/** diagnose: the robot program (src/remote/diagnose.ts) runs the attempts, the leak test and --ab, in one command. */
import { HostError } from '../errors.js';
import { checkCompliance, chooseBackend } from '../modules/compliance.js';
import { lockedBy } from '../remote/script.js';
import { diagnose, parseRobotResult, VERDICT_TEXT } from '../diagnose/verdict.js';
import { chooseInterface, ifaceList } from '../modules/rule.js';
import { diagnoseScript, nftSwitch, type DiagnoseParams } from '../remote/diagnose.js';
import { MalformedResult, type RobotResult } from '../diagnose/verdict.js';
import { IFACE_RE } from '../modules/rule.js';
import type { HostTask } from '../runner/runner.js';
import { reason } from '../runner/types.js';
import { type TaskOptions, begin, describe } from './session.js';

export interface DiagnoseOptions extends TaskOptions {
  /** --stun HOST:PORT (else the inventory's masquerade_stun_server, else DEFAULT_STUN). */
  stun?: string;
  attempts: number;
  /** --ab: groups alternating masquerading off/on, `per` attempts each. */
  ab?: { groups: number; per: number };
  /** Seconds until the A/B restore timer fires (tests: FLEETMASQ_AB_RESTORE_AFTER); default twice the experiment's length and a minute. */
  abRestoreAfterS?: number;
}

/** A public STUN server, when neither --stun nor masquerade_stun_server names one. */
export const DEFAULT_STUN = 'stun.l.google.com:19302';

/**
 * diagnose: the robot program (src/remote/diagnose.ts) runs the attempts (and the leak test, and with
 * --ab the off/on groups under a robot-side restore timer, holding the robot's lock), in one command.
 */
export function diagnoseTask(o: DiagnoseOptions): HostTask {
  return async (ctx) => {
    const { out, settings, conn, facts } = await begin(ctx, o);
    const server = o.stun ?? (ctx.vars.masquerade_stun_server as string | undefined) ?? DEFAULT_STUN;
    const [host, port] = [server.slice(0, server.lastIndexOf(':')), server.slice(server.lastIndexOf(':') + 1)];
    // The uplink: a named interface as it is, else the default route's (also for a list or wildcard).
    const named = settings.interface !== 'auto' && !settings.interface.includes(',') && !settings.interface.includes('+');
    const choice = chooseInterface(facts, named ? settings.interface : 'auto');
    if ('error' in choice) throw new HostError('config', choice.error);
    const ifaces = settings.interface === 'auto' ? [choice.iface] : ifaceList(settings.interface);
    // Names reach the robot's shell (the restore script): only those fleetmasq accepts anywhere.
    const refused = [choice.iface, ...ifaces].find((i) => !IFACE_RE.test(i));
    if (refused !== undefined) throw new HostError('config', `interface name ${JSON.stringify(refused)} refused: nothing was run`);
    // --ab switches the live rule where it lives: iptables, or fleetmasq's own nftables table.
    const nftTable = o.ab && chooseBackend(facts, settings.backend) === 'nft';
    if (o.ab && !nftTable && facts.rulesError) throw new HostError('config', `iptables does not work here (${facts.rulesError}): --ab will not touch a robot it could not restore`);
    const timeout = 1.0;
    const perAttempt = 2 * timeout + 4 * 0.5 + 0.3 + 0.2;
    const total = (o.ab ? o.ab.groups * o.ab.per : o.attempts) * perAttempt + 10;
    const restoreAfter = o.ab ? (o.abRestoreAfterS ?? Math.ceil(total * 2 + 60)) : undefined;
    const params: DiagnoseParams = {
      ...(nftTable ? { nft: nftSwitch(settings.interface === 'auto' ? choice.iface : settings.interface) } : {}),
      uplink: choice.iface,
      ifaces,
      server: [host, port],
      attempts: o.attempts,
      timeout,
      candidateTimeout: 0.5,
      settle: 0.3,
      gap: 0.2,
      leak: true,
      systemd: facts.systemd,
      ...(o.ab ? { ab: o.ab, restoreAfter } : {}),
    };
    const script = diagnoseScript(params, { expectedS: total, ...(o.lock ? { lock: { runId: o.lock.runId, holder: o.lock.holder } } : {}), ...(o.audit ? { audit: o.audit } : {}) });
    ctx.step(o.ab ? `A/B: ${o.ab.groups} groups of ${o.ab.per} attempts` : `${o.attempts} connection attempts`);
    const r = await conn.exec(script, { timeoutMs: Math.max(o.commandTimeoutMs ?? 0, total * 1000 + 30_000) });
    const holder = r.code === 75 ? lockedBy(r.stdout) : undefined;
    if (holder !== undefined) throw new HostError('locked', `locked by ${holder}: another run is changing this robot`);
    let res: RobotResult | undefined;
    try {
      res = parseRobotResult(r.stdout);
    } catch (e) {
      if (e instanceof MalformedResult) throw new HostError('command', `the diagnose program's result is malformed: ${e.message}`);
      throw e;
    }
    if (!res) throw new HostError('command', `the diagnose program gave no result (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ') || 'no error output'}`);
    if (res.nopython) {
      out.status = 'skipped';
      out.reasons.push(reason('needs-python3', 'cannot diagnose: needs python3'));
      return out;
    }
    if (res.error) throw new HostError('config', res.error);
    if (res.crash) throw new HostError('command', `the diagnose program failed on the robot: ${res.crash}`);
    if (res.abCutShort) {
      out.status = 'failed';
      out.reasons.push(reason('ab-cut-short', `the A/B experiment's restore timer fired before it ended: it stopped after ${res.groups?.length ?? 0} group(s) and put the live rule back as it found it`, { groups: res.groups?.length ?? 0 }));
    }
    const c = checkCompliance(facts, settings);
    const d = diagnose(res, c.ruleCount > 0, server);
    out.details = { ...describe(facts, c), diagnosis: d };
    // Unprotected as measured, or not compliant by its facts: never compliant in the fleet view.
    out.compliant = c.compliant && d.verdict !== 'affected-unprotected' && d.verdict !== 'changes-despite-masquerading';
    if (d.ab && !d.ab.restored) {
      out.status = 'failed';
      out.reasons.push(reason('ab-not-restored', 'the A/B experiment did not leave the live rule as it found it: its restore timer puts it back'));
    }
    if (d.verdict === 'affected-unprotected') out.reasons.push(reason('affected-unprotected', VERDICT_TEXT[d.verdict]));
    return out;
  };
}
