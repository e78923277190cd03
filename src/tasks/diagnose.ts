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
import { reason, type HostOutcome } from '../runner/types.js';
import type { Facts } from '../facts/facts.js';
import type { MasqSettings } from '../modules/compliance.js';
import type { SshConnection } from '../transport/ssh.js';
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
 * --ab the off/on groups under a robot-side restore timer, holding the robot's lock), in one command:
 * plan it, run it, judge its result.
 */
export function diagnoseTask(o: DiagnoseOptions): HostTask {
  return async (ctx) => {
    const { out, settings, conn, facts } = await begin(ctx, o);
    const server = o.stun ?? (ctx.vars.masquerade_stun_server as string | undefined) ?? DEFAULT_STUN;
    const { params, totalS } = planDiagnose(o, settings, facts, server);
    const script = diagnoseScript(params, { expectedS: totalS, ...(o.lock ? { lock: { runId: o.lock.runId, holder: o.lock.holder } } : {}), ...(o.audit ? { audit: o.audit } : {}) });
    ctx.step(o.ab ? `A/B: ${o.ab.groups} groups of ${o.ab.per} attempts` : `${o.attempts} connection attempts`);
    const res = await runDiagnose(conn, script, Math.max(o.commandTimeoutMs ?? 0, totalS * 1000 + 30_000));
    return judgeDiagnosis(out, res, facts, settings, server);
  };
}

/**
 * The robot program's parameters: the uplink (a named interface as it is, else the default route's, also
 * for a list or wildcard), the STUN server, the attempts' timing, and with --ab where the live rule is
 * switched (iptables, or fleetmasq's own nftables table) and when the restore timer fires. Refuses, with
 * nothing run, an interface name fleetmasq would not accept anywhere (names reach the robot's shell) and
 * --ab where iptables does not work (a robot it could not restore).
 */
function planDiagnose(o: DiagnoseOptions, settings: MasqSettings, facts: Facts, server: string): { params: DiagnoseParams; totalS: number } {
  const [host, port] = [server.slice(0, server.lastIndexOf(':')), server.slice(server.lastIndexOf(':') + 1)];
  const named = settings.interface !== 'auto' && !settings.interface.includes(',') && !settings.interface.includes('+');
  const choice = chooseInterface(facts, named ? settings.interface : 'auto');
  if ('error' in choice) throw new HostError('config', choice.error);
  const ifaces = settings.interface === 'auto' ? [choice.iface] : ifaceList(settings.interface);
  const refused = [choice.iface, ...ifaces].find((i) => !IFACE_RE.test(i));
  if (refused !== undefined) throw new HostError('config', `interface name ${JSON.stringify(refused)} refused: nothing was run`);
  const nftTable = o.ab && chooseBackend(facts, settings.backend) === 'nft';
  if (o.ab && !nftTable && facts.rulesError) throw new HostError('config', `iptables does not work here (${facts.rulesError}): --ab will not touch a robot it could not restore`);
  const timeout = 1.0;
  const perAttempt = 2 * timeout + 4 * 0.5 + 0.3 + 0.2;
  const totalS = (o.ab ? o.ab.groups * o.ab.per : o.attempts) * perAttempt + 10;
  const restoreAfter = o.ab ? (o.abRestoreAfterS ?? Math.ceil(totalS * 2 + 60)) : undefined;
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
  return { params, totalS };
}

/** Runs the robot program: its result, or why there is none (another run's lock, malformed or no output). */
async function runDiagnose(conn: SshConnection, script: string, timeoutMs: number): Promise<RobotResult> {
  const r = await conn.exec(script, { timeoutMs });
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
  return res;
}

/** The robot's outcome from the program's result: the verdict, the A/B's restore, and compliance (never while unprotected as measured). */
function judgeDiagnosis(out: HostOutcome, res: RobotResult, facts: Facts, settings: MasqSettings, server: string): HostOutcome {
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
  out.compliant = c.compliant && d.verdict !== 'affected-unprotected' && d.verdict !== 'changes-despite-masquerading';
  if (d.ab && !d.ab.restored) {
    out.status = 'failed';
    out.reasons.push(reason('ab-not-restored', 'the A/B experiment did not leave the live rule as it found it: its restore timer puts it back'));
  }
  if (d.verdict === 'affected-unprotected') out.reasons.push(reason('affected-unprotected', VERDICT_TEXT[d.verdict]));
  return out;
}
