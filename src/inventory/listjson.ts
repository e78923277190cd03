/**
 * `ansible-inventory --list` prints its JSON with Python's json.dumps(sort_keys=True, indent=4,
 * ensure_ascii=False): every mapping's keys sorted (by code point), lists in their order, 4 spaces.
 * This writes the same bytes for the same data, so `diff` against ansible-inventory shows nothing.
 */

import { PY_KEYS, type PyKey } from './pyliteral.js';

/** Python's float repr for a number JSON would print (integers as integers). */
function pyNumber(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : n < 0 ? '-Infinity' : 'NaN';
  // An integral value is taken for an int (a JS number does not say whether it was 1 or 1.0): all its digits.
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  // Python writes floats below 1e-4 in exponent form, the exponent with two digits at least.
  const abs = Math.abs(n);
  if (abs < 1e-4) {
    const [mant, exp] = n.toExponential().split('e') as [string, string];
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '');
    return `${mant}e${sign}${digits.padStart(2, '0')}`;
  }
  return String(n);
}

/** Code-point order, as Python sorts str keys (UTF-16 order differs only above U+FFFF). */
function byCodePoint(a: string, b: string): number {
  const ca = [...a];
  const cb = [...b];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = ca[i]!.codePointAt(0)! - cb[i]!.codePointAt(0)!;
    if (d) return d;
  }
  return ca.length - cb.length;
}

/** Python could not sort a dict's keys (an int beside a str, None beside anything): it prints unsorted. */
class Unsortable extends Error {}

function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj);
  const kinds = PY_KEYS.get(obj);
  if (!kinds) return keys.sort(byCodePoint);
  const ks = keys.map((k) => ({ k, t: kinds.get(k) ?? ({ kind: 'str' } as PyKey) }));
  const types = new Set(ks.map((x) => x.t.kind));
  if (keys.length > 1 && (types.size > 1 || types.has('none'))) throw new Unsortable();
  if (types.has('number')) return ks.sort((a, b) => (a.t as { value: number }).value - (b.t as { value: number }).value).map((x) => x.k);
  return keys.sort(byCodePoint);
}

function dump(value: unknown, sort: boolean, indent = ''): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return pyNumber(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return JSON.stringify(value);
  const inner = `${indent}    `;
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    return `[\n${value.map((v) => inner + dump(v, sort, inner)).join(',\n')}\n${indent}]`;
  }
  // Unsorted: in insertion order, which a JS object loses for integer-like keys ({'k': 1, 2: None}): the
  // order literalEval read them in is kept beside the dict.
  const keys = sort ? sortedKeys(value as object) : [...(PY_KEYS.get(value as object)?.keys() ?? Object.keys(value as object))];
  if (!keys.length) return '{}';
  return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${dump((value as Record<string, unknown>)[k], sort, inner)}`).join(',\n')}\n${indent}}`;
}

/**
 * The JSON ansible-inventory prints for this data (--list, --host). When Python cannot sort some dict's
 * keys, ansible-inventory warns and prints everything in insertion order, its groups before _meta: the
 * same here, with `warning` set to Ansible's words.
 */
export function ansibleJson(value: unknown): { text: string; warning?: string } {
  try {
    return { text: dump(value, true) };
  } catch (e) {
    if (!(e instanceof Unsortable)) throw e;
    let v = value;
    if (v && typeof v === 'object' && !Array.isArray(v) && '_meta' in v) {
      const { _meta, ...groups } = v as Record<string, unknown>;
      v = { ...groups, _meta };
    }
    return { text: dump(v, false), warning: "Could not sort JSON output due to issues while sorting keys: '<' not supported between instances of 'int' and 'str'" };
  }
}
