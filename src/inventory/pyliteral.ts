/**
 * Python's `ast.literal_eval` for the values of an INI inventory, as Ansible types them: an int, float,
 * bool, None, string, list, tuple (a list), dict or set (a list) when the text is such a Python literal,
 * else the text itself. Written here (small, no dependency): Ansible's typing is Python's literal syntax,
 * which no INI library implements. Numbers, strings (prefixes r/b/u, escapes, implicit concatenation),
 * containers, unary +/- and `a+bj`-style sums; complex numbers and Ellipsis are left as text.
 */

export type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

class NotLiteral extends Error {}

interface Tok {
  kind: 'num' | 'str' | 'name' | 'op' | 'end';
  text: string;
  value?: PyValue;
  bytes?: boolean;
}

const SIMPLE_ESC: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\n': '' };

function unescape(body: string, raw: boolean): string {
  if (raw) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[i + 1];
    if (n === undefined) throw new NotLiteral();
    if (n in SIMPLE_ESC) {
      out += SIMPLE_ESC[n];
      i++;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i + 1, i + 4))![0];
      out += String.fromCodePoint(parseInt(m, 8));
      i += m.length;
    } else if (n === 'x' || n === 'u' || n === 'U') {
      const len = n === 'x' ? 2 : n === 'u' ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new NotLiteral();
      out += String.fromCodePoint(parseInt(hex, 16));
      i += 1 + len;
    } else if (n === 'N') throw new NotLiteral(); // \N{NAME}: not worth a name table
    else {
      out += `\\${n}`; // unknown escapes stay as they are (Python warns)
      i++;
    }
  }
  return out;
}

/** Python's tokenizer refuses more than 200 nested brackets ("too many nested parentheses"): Ansible keeps such a value as text. */
export const MAX_NESTING = 200;

// Sticky: each token is matched where the last one ended (no copy of the rest of the text per token).
const STR_RE = /([rRbBuU]|[rR][bB]|[bB][rR])?('''|"""|'|")/y;
const NUM_RE = /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.?(?:\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?)/y;
const NAME_RE = /[A-Za-z_][A-Za-z0-9_]*/y;

function sticky(re: RegExp, src: string, i: number): RegExpExecArray | null {
  re.lastIndex = i;
  return re.exec(src);
}

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let level = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\f') {
      i++;
      continue;
    }
    if (c === '#') break; // a comment to the end
    if (c === '\\' || c === '\n' || c === '\r') throw new NotLiteral();
    const str = sticky(STR_RE, src, i);
    if (str) {
      const prefix = (str[1] ?? '').toLowerCase();
      const q = str[2]!;
      let j = i + str[0].length;
      let body = '';
      for (;;) {
        if (j >= src.length) throw new NotLiteral();
        if (src.startsWith(q, j)) break;
        if (src[j] === '\\') {
          body += src.slice(j, j + 2);
          j += 2;
          continue;
        }
        if (q.length === 1 && src[j] === '\n') throw new NotLiteral();
        body += src[j];
        j++;
      }
      const raw = prefix.includes('r');
      toks.push({ kind: 'str', text: src.slice(i, j + q.length), value: unescape(body, raw), bytes: prefix.includes('b') });
      i = j + q.length;
      continue;
    }
    const num = sticky(NUM_RE, src, i);
    if (num && num[0] && /^(\d|\.\d)/.test(num[0])) {
      const t = num[0];
      if (/[jJ]$/.test(t)) throw new NotLiteral(); // complex: left as text
      const clean = t.replace(/_/g, '');
      let value: number;
      if (/^0[xX]/.test(clean)) value = parseInt(clean.slice(2), 16);
      else if (/^0[oO]/.test(clean)) value = parseInt(clean.slice(2), 8);
      else if (/^0[bB]/.test(clean)) value = parseInt(clean.slice(2), 2);
      else if (/[.eE]/.test(clean)) value = Number(clean);
      else {
        // Decimal ints: no leading zeros (Python: "leading zeros in decimal integer literals are not permitted").
        if (/^0\d/.test(clean) && !/^0+$/.test(clean)) throw new NotLiteral();
        value = Number(clean);
      }
      // A number glued to a name (`1abc`) is no literal.
      if (/[A-Za-z_]/.test(src[i + t.length] ?? '')) throw new NotLiteral();
      toks.push({ kind: 'num', text: t, value });
      i += t.length;
      continue;
    }
    const name = sticky(NAME_RE, src, i);
    if (name) {
      toks.push({ kind: 'name', text: name[0] });
      i += name[0].length;
      continue;
    }
    if ('[](){},:+-'.includes(c)) {
      if ('([{'.includes(c) && ++level > MAX_NESTING) throw new NotLiteral();
      if (')]}'.includes(c)) level--;
      toks.push({ kind: 'op', text: c });
      i++;
      continue;
    }
    if (c === '.' && src.startsWith('...', i)) throw new NotLiteral(); // Ellipsis
    throw new NotLiteral();
  }
  toks.push({ kind: 'end', text: '' });
  return toks;
}

/** A dict key's Python type (JSON keys are strings; Python's sort_keys compares the keys as they were). */
export type PyKey = { kind: 'str' } | { kind: 'none' } | { kind: 'number'; value: number };
/** The Python key types of the dicts literalEval made (only dicts: their identity is kept through merges). */
export const PY_KEYS = new WeakMap<object, Map<string, PyKey>>();

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}
  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private next(): Tok {
    return this.toks[this.i++]!;
  }
  private eat(text: string): boolean {
    if (this.peek().kind === 'op' && this.peek().text === text) {
      this.i++;
      return true;
    }
    return false;
  }
  private expect(text: string): void {
    if (!this.eat(text)) throw new NotLiteral();
  }

  /** The whole input: one expression (a bare `a, b` is a tuple). */
  top(): PyValue {
    const v = this.tupleOrExpr(['end']);
    if (this.peek().kind !== 'end') throw new NotLiteral();
    return v;
  }

  private tupleOrExpr(closers: string[]): PyValue {
    const first = this.expr();
    if (!(this.peek().kind === 'op' && this.peek().text === ',')) return first;
    const items = [first];
    while (this.eat(',')) {
      if (this.peek().kind === 'end' || closers.includes(this.peek().text)) break;
      items.push(this.expr());
    }
    return items;
  }

  /** A value, with + and - as literal_eval allows them: on numbers only. */
  private expr(): PyValue {
    const v = this.unary();
    // `a + b` is allowed by literal_eval only for complex numbers (`1+2j`), which are left as text.
    if (this.peek().kind === 'op' && (this.peek().text === '+' || this.peek().text === '-')) throw new NotLiteral();
    return v;
  }

  /** One sign at most, on a number (parentheses allowed: `-(1)`; literal_eval refuses `--1`, `-(-1)`). */
  private unary(): PyValue {
    const sign = this.eat('-') ? -1 : this.eat('+') ? 1 : 0;
    if (!sign) return this.atom();
    const from = this.i;
    const v = this.atom();
    const signed = this.toks.slice(from, this.i).some((t) => t.kind === 'op' && (t.text === '-' || t.text === '+'));
    if (typeof v !== 'number' || signed) throw new NotLiteral();
    return sign * v;
  }

  private atom(): PyValue {
    const t = this.next();
    switch (t.kind) {
      case 'num':
        return t.value!;
      case 'str': {
        // Adjacent literals concatenate (all bytes or all text).
        let s = t.value as string;
        while (this.peek().kind === 'str') {
          const u = this.next();
          if (!!u.bytes !== !!t.bytes) throw new NotLiteral();
          s += u.value as string;
        }
        return s;
      }
      case 'name':
        if (t.text === 'True') return true;
        if (t.text === 'False') return false;
        if (t.text === 'None') return null;
        if (t.text === 'set' && this.eat('(')) {
          this.expect(')');
          return [];
        }
        throw new NotLiteral();
      case 'op':
        if (t.text === '[') return this.seq(']');
        if (t.text === '(') {
          if (this.eat(')')) return [];
          const v = this.tupleOrExpr([')']);
          this.expect(')');
          return v;
        }
        if (t.text === '{') return this.braces();
        throw new NotLiteral();
      default:
        throw new NotLiteral();
    }
  }

  private seq(close: string): PyValue[] {
    const items: PyValue[] = [];
    while (!this.eat(close)) {
      items.push(this.expr());
      if (!this.eat(',')) {
        this.expect(close);
        break;
      }
    }
    return items;
  }

  private braces(): PyValue {
    if (this.eat('}')) return {};
    const first = this.expr();
    if (this.eat(':')) {
      const out: { [k: string]: PyValue } = {};
      const kinds = new Map<string, PyKey>();
      PY_KEYS.set(out, kinds);
      const key = (k: PyValue) => {
        if (k !== null && typeof k === 'object') throw new NotLiteral(); // unhashable
        // As Python's json writes such keys.
        const s = k === null ? 'null' : typeof k === 'boolean' ? String(k) : String(k);
        kinds.set(s, k === null ? { kind: 'none' } : typeof k === 'string' ? { kind: 'str' } : { kind: 'number', value: Number(k) });
        return s;
      };
      out[key(first)] = this.expr();
      while (this.eat(',')) {
        if (this.eat('}')) return out;
        const k = this.expr();
        this.expect(':');
        out[key(k)] = this.expr();
      }
      this.expect('}');
      return out;
    }
    // A set: a list here (JSON has no sets).
    const items = [first];
    while (this.eat(',')) {
      if (this.peek().kind === 'op' && this.peek().text === '}') break;
      items.push(this.expr());
    }
    this.expect('}');
    return items;
  }
}

/** The value Ansible gives an INI value: the Python literal it spells, or the text itself. */
export function literalEval(text: string): PyValue {
  try {
    // literal_eval strips leading spaces and tabs.
    return new Parser(tokenize(text.replace(/^[ \t]+/, ''))).top();
  } catch (e) {
    if (e instanceof NotLiteral) return text;
    throw e;
  }
}
