/**
 * What `fleetmasq diagnose` concludes for a robot (pure): from the robot program's result (attempts,
 * leak test, A/B groups) to a verdict and the totals the field note used ("changed 8/10 without,
 * 0/10 with").
 */

export interface Attempt {
  before: string | null;
  after: string | null;
  candidates: number;
  answered: number;
  changed: boolean;
}

export type LeakResult = 'masqueraded' | 'leaks' | 'not-captured' | 'no-other-address' | 'needs-root';

export interface RobotResult {
  v: number;
  error?: string;
  /** The program itself failed (an exception): what it was. */
  crash?: string;
  nopython?: boolean;
  uplinkAddr?: string;
  addrs?: string[];
  leak?: { result: LeakResult; from?: string; seen?: string };
  attempts?: Attempt[];
  groups?: { masquerade: boolean; attempts: Attempt[] }[];
  abRestore?: { timer: string; after: number; original: Record<string, boolean> };
  abRestored?: boolean;
  /** The restore timer fired before the experiment ended: it stopped toggling there. */
  abCutShort?: boolean;
}

export type Verdict = 'affected-unprotected' | 'protected' | 'not-affected' | 'changes-despite-masquerading' | 'inconclusive';

export interface Tally {
  attempts: number;
  answered: number;
  changes: number;
}

export interface Diagnosis {
  verdict: Verdict;
  /** The robot as it is (its own masquerading state). */
  tally: Tally;
  /** Whether masquerading is in effect, and how that was learned. */
  masquerading: boolean;
  masqueradingFrom: 'leak-test' | 'rules';
  leak?: RobotResult['leak'];
  /** --ab: the field note's experiment. */
  ab?: { without: Tally; with: Tally; groups: { masquerade: boolean; attempts: Attempt[] }[]; restored: boolean; cutShort?: boolean };
  attempts: Attempt[];
  server: string;
}

export function tally(attempts: Attempt[]): Tally {
  const answered = attempts.filter((a) => a.before && a.after);
  return { attempts: attempts.length, answered: answered.length, changes: answered.filter((a) => a.changed).length };
}

/** The robot program's result line is there but is not what the program writes (a robot's bad data). */
export class MalformedResult extends Error {}

const LEAK_RESULTS: readonly LeakResult[] = ['masqueraded', 'leaks', 'not-captured', 'no-other-address', 'needs-root'];
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;

type Check = (x: unknown, at: string) => void;
const bad = (at: string, what: string): never => {
  throw new MalformedResult(`${at} is not ${what}`);
};
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const str: Check = (x, at) => void (typeof x === 'string' || bad(at, 'a string'));
const ip: Check = (x, at) => void ((typeof x === 'string' && IPV4.test(x)) || bad(at, 'an IPv4 address'));
const ipOrNull: Check = (x, at) => void (x === null || ip(x, at));
const bool: Check = (x, at) => void (typeof x === 'boolean' || bad(at, 'a boolean'));
const count: Check = (x, at) => void ((typeof x === 'number' && Number.isInteger(x) && x >= 0) || bad(at, 'a count'));
const num: Check = (x, at) => void ((typeof x === 'number' && Number.isFinite(x)) || bad(at, 'a number'));
const arr = (item: Check): Check => (x, at) => {
  if (!Array.isArray(x)) bad(at, 'a list');
  (x as unknown[]).forEach((v, i) => item(v, `${at}[${i}]`));
};
const obj = (fields: Record<string, [Check, boolean?]>): Check => (x, at) => {
  if (!isObj(x)) return bad(at, 'an object');
  for (const [k, [check, optional]] of Object.entries(fields)) {
    if (x[k] === undefined) {
      if (!optional) bad(`${at}.${k}`, 'there');
    } else check(x[k], `${at}.${k}`);
  }
};
const attempt = obj({ before: [ipOrNull], after: [ipOrNull], candidates: [count], answered: [count], changed: [bool] });
const attempts = arr(attempt);
const resultShape = obj({
  v: [num],
  error: [str, true],
  crash: [str, true],
  nopython: [bool, true],
  uplinkAddr: [ip, true],
  addrs: [arr(ip), true],
  leak: [obj({ result: [(x, at) => void (LEAK_RESULTS.includes(x as LeakResult) || bad(at, 'a leak result')), false], from: [ip, true], seen: [ip, true] }), true],
  attempts: [attempts, true],
  groups: [arr(obj({ masquerade: [bool], attempts: [attempts] })), true],
  abRestore: [
    obj({
      timer: [str],
      after: [num],
      original: [(x, at) => (isObj(x) ? Object.entries(x).forEach(([k, v]) => bool(v, `${at}.${k}`)) : bad(at, 'an object'))],
    }),
    true,
  ],
  abRestored: [bool, true],
  abCutShort: [bool, true],
});

/**
 * The robot program's one result line, type-checked: undefined when there is none, MalformedResult when
 * a field is not what the program writes (one robot's bad data is that robot's failure, never the fleet's).
 */
export function parseRobotResult(stdout: string): RobotResult | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('@@FMDIAG '));
  if (!line) return undefined;
  let x: unknown;
  try {
    x = JSON.parse(line.slice(9));
  } catch {
    throw new MalformedResult('the result line is not JSON');
  }
  resultShape(x, 'result');
  return x as RobotResult;
}

export function diagnose(r: RobotResult, ruleLive: boolean, server: string): Diagnosis {
  const leakSays = r.leak?.result === 'masqueraded' ? true : r.leak?.result === 'leaks' ? false : undefined;
  const masquerading = leakSays ?? ruleLive;
  const masqueradingFrom = leakSays === undefined ? 'rules' : 'leak-test';
  if (r.groups) {
    const without = tally(r.groups.filter((g) => !g.masquerade).flatMap((g) => g.attempts));
    const withM = tally(r.groups.filter((g) => g.masquerade).flatMap((g) => g.attempts));
    const all = [...r.groups.flatMap((g) => g.attempts)];
    const total = tally(all);
    let verdict: Verdict;
    if (without.answered + withM.answered === 0) verdict = 'inconclusive';
    else if (withM.changes > 0) verdict = 'changes-despite-masquerading';
    else if (without.changes === 0) verdict = 'not-affected';
    else verdict = masquerading ? 'protected' : 'affected-unprotected';
    return { verdict, tally: total, masquerading, masqueradingFrom, leak: r.leak, ab: { without, with: withM, groups: r.groups, restored: r.abRestored === true, ...(r.abCutShort ? { cutShort: true } : {}) }, attempts: all, server };
  }
  const attempts = r.attempts ?? [];
  const t = tally(attempts);
  let verdict: Verdict;
  if (t.answered === 0) verdict = 'inconclusive';
  else if (t.changes > 0) verdict = masquerading ? 'changes-despite-masquerading' : 'affected-unprotected';
  else verdict = masquerading ? 'protected' : 'not-affected';
  return { verdict, tally: t, masquerading, masqueradingFrom, leak: r.leak, attempts, server };
}

export const VERDICT_TEXT: Record<Verdict, string> = {
  'affected-unprotected': 'affected, unprotected: the public IP changed right after connection attempts',
  protected: 'protected: masquerading in effect, no change',
  'not-affected': 'not affected: no change',
  'changes-despite-masquerading': 'changes even with masquerading in effect: not the hotspot defect fleetmasq fixes',
  inconclusive: 'inconclusive: no STUN answer',
};
