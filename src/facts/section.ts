/**
 * A fact, declared once (pyinfra's FactBase, kept small): the shell that prints it after its `@@FM name`
 * marker, the robot paths that shell reads, the parser of its lines (untrusted robot output → a typed
 * value, refusing what fleetmasq would not accept) and how it shows in a robot's details. The `Facts` type,
 * the details a fact contributes, the facts script and its parser are all derived from a list of these.
 */
import { ENV_SH, SECTION_FN, sections } from '../remote/script.js';

export class FactsError extends Error {}

export interface FactSection<T extends object, D extends object = object> {
  /** Its marker in the output (`@@FM name`): a word, unique in the list. */
  name: string;
  /** Its shell (after the prelude, see PRELUDE); any value interpolated is quoted (shQuote) or a constant. */
  sh: string;
  /**
   * The robot paths its shell names (exactly as written there): what it reads. The fast-tier sandbox
   * maps these into its own root (test/helpers/stubs.ts), so a test never reads the machine's own.
   */
  reads: readonly string[];
  /** Its lines (the marker excluded) → its part of the facts. Throws FactsError on output it cannot trust. */
  parse: (lines: string[]) => T;
  /** What it contributes to the robot's details (keys of the JSON `details`, see src/report/fields.ts). */
  show?: (value: T) => D;
}

/** Declares a fact section (only a typed identity: the types of its value and details are inferred). */
export function fact<T extends object, D extends object = object>(s: FactSection<T, D>): FactSection<T, D> {
  return s;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySection = FactSection<any, any>;
type Intersect<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type Flat<T> = { [K in keyof T]: T[K] };

type ValueOf<X> = X extends { parse: (lines: string[]) => infer T } ? T : never;
type ShownOf<X> = X extends { show?: (value: never) => infer D } ? D : never;

/** The facts a list of sections parses into: every section's value, side by side. */
export type FactsOf<S extends readonly AnySection[]> = Flat<Intersect<ValueOf<S[number]>>>;
/** The details a list of sections shows (each optional: a robot may fail before its facts are read). */
export type DetailsOf<S extends readonly AnySection[]> = Partial<Flat<Intersect<ShownOf<S[number]>>>>;

/**
 * What every section may use, read once first: PID 1's name (`$pid1`) and `iptables -V` (`$v`).
 * Its paths are declared like a section's.
 */
export const PRELUDE = {
  sh: `read -r pid1 < /proc/1/comm
v=$(iptables -V 2>&1)`,
  reads: ['/proc/1/comm'],
} as const;

/** The facts command of a list of sections: the environment, the prelude, each section after its marker, `end`. */
export function factsScript(list: readonly AnySection[]): string {
  return `${ENV_SH}
${SECTION_FN}
${PRELUDE.sh}
${list.map((s) => `m ${s.name}\n${s.sh}`).join('\n')}
m end
`;
}

/** The output of factsScript(list) → its facts; an output that did not reach `end` is refused. */
export function parseWith<S extends readonly AnySection[]>(list: S, out: string): FactsOf<S> {
  const s = sections(out);
  if (!s.has('end')) throw new FactsError('fact gathering did not complete');
  return Object.assign({}, ...list.map((sec) => sec.parse(s.get(sec.name) ?? []))) as FactsOf<S>;
}

/** The details the sections show for these facts. */
export function shownWith<S extends readonly AnySection[]>(list: S, facts: FactsOf<S>): DetailsOf<S> {
  return Object.assign({}, ...list.map((sec) => sec.show?.(facts))) as DetailsOf<S>;
}

/** Every robot path the facts script of a list of sections reads (the prelude's first). */
export function readsOf(list: readonly AnySection[]): string[] {
  return [...new Set([...PRELUDE.reads, ...list.flatMap((s) => s.reads)])];
}
