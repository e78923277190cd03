/**
 * The one sanitiser for text that came from robots (or anywhere untrusted) on its way to a person or a
 * record: control characters (escape sequences that could retitle the terminal, recolour or rewrite what
 * is shown; carriage returns that overwrite a line) become \u00NN. Only newlines and tabs pass. The same
 * form is a JSON escape, so a --json document stays valid JSON (JSON.stringify leaves DEL and C1 raw).
 */
export function visible(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** At most this much of each stream a robot sent is kept in a run record. */
export const RAW_LIMIT = 64 * 1024;

/**
 * A robot's output as kept in a run record: sanitised, and bounded to its last `limit` bytes (the end
 * is where a failure says why), with how much was cut said at the top.
 */
export function keptOutput(s: string, limit = RAW_LIMIT): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= limit) return visible(s);
  // Cut on a character boundary: skip UTF-8 continuation bytes at the start of the kept tail.
  let start = buf.length - limit;
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return `[first ${start} bytes not kept]\n${visible(buf.subarray(start).toString('utf8'))}`;
}
