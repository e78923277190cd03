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
  nopython?: boolean;
  uplinkAddr?: string;
  addrs?: string[];
  leak?: { result: LeakResult; from?: string; seen?: string };
  attempts?: Attempt[];
  groups?: { masquerade: boolean; attempts: Attempt[] }[];
  abRestore?: { timer: string; after: number; original: Record<string, boolean> };
  abRestored?: boolean;
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
  ab?: { without: Tally; with: Tally; groups: { masquerade: boolean; attempts: Attempt[] }[]; restored: boolean };
  attempts: Attempt[];
  server: string;
}

export function tally(attempts: Attempt[]): Tally {
  const answered = attempts.filter((a) => a.before && a.after);
  return { attempts: attempts.length, answered: answered.length, changes: answered.filter((a) => a.changed).length };
}

/** The robot program's one result line. */
export function parseRobotResult(stdout: string): RobotResult | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('@@FMDIAG '));
  if (!line) return undefined;
  try {
    return JSON.parse(line.slice(9)) as RobotResult;
  } catch {
    return undefined;
  }
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
    return { verdict, tally: total, masquerading, masqueradingFrom, leak: r.leak, ab: { without, with: withM, groups: r.groups, restored: r.abRestored === true }, attempts: all, server };
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
