/**
 * Python's `shlex.split(line, comments=True)` (POSIX mode), which Ansible's INI inventory uses for a host
 * line: whitespace separates words, '…' and "…" quote (a backslash escapes only " and \ inside "…"),
 * a backslash escapes the next character outside quotes, and # starts a comment, even inside a word.
 * A port of CPython's read_token for that configuration (no library reproduces its corner cases).
 */
export class ShlexError extends Error {}

const WS = ' \t\r\n';

export function shlexSplit(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let token = '';
    let quoted = false;
    let state: string | null = ' ';
    let escaped = ' ';
    for (;;) {
      const c = i < s.length ? s[i++]! : '';
      if (state === ' ') {
        if (!c) {
          state = null;
          break;
        }
        if (WS.includes(c)) {
          if (token || quoted) break;
          continue;
        }
        if (c === '#') {
          i = s.length; // the rest of the line
          continue;
        }
        if (c === '\\') {
          escaped = 'a';
          state = c;
        } else if (c === "'" || c === '"') state = c;
        else {
          token = c;
          state = 'a';
        }
      } else if (state === "'" || state === '"') {
        quoted = true;
        if (!c) throw new ShlexError('No closing quotation');
        if (c === state) state = 'a';
        else if (c === '\\' && state === '"') {
          escaped = state;
          state = '\\';
        } else token += c;
      } else if (state === '\\') {
        if (!c) throw new ShlexError('No escaped character');
        if ((escaped === "'" || escaped === '"') && c !== state && c !== escaped) token += state;
        token += c;
        state = escaped;
      } else {
        // in a word
        if (!c) {
          state = null;
          break;
        }
        if (WS.includes(c)) {
          state = ' ';
          if (token || quoted) break;
          continue;
        }
        if (c === '#') {
          i = s.length;
          state = ' ';
          if (token || quoted) break;
          continue;
        }
        if (c === "'" || c === '"') state = c;
        else if (c === '\\') {
          escaped = 'a';
          state = c;
        } else token += c;
      }
    }
    if (token || quoted) out.push(token);
    if (state === null) return out;
  }
}
