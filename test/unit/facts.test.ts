/**
 * The facts' parsers as data (pyinfra's tests/facts/*\/*.json): test/fixtures/facts/<section>/<case>.json
 * holds a section's raw robot output and what it must parse into (`fact`) and show (`shows`), or the
 * error it must be refused with (`error`). Every section has its cases; hostile output is among them.
 * And each section declares exactly the robot paths its shell names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FACTS_SCRIPT, FactsError, parseFacts, SECTIONS } from '../../src/facts/facts.js';
import { PRELUDE } from '../../src/facts/section.js';
import { ENV_SH } from '../../src/remote/script.js';
import { ROBOT_FIELDS } from '../../src/report/fields.js';

const DIR = 'test/fixtures/facts';

interface Case {
  about: string;
  output: string[];
  fact?: Record<string, unknown>;
  shows?: Record<string, unknown>;
  error?: string;
}

const cases = (section: string): [string, Case][] =>
  readdirSync(join(DIR, section))
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, JSON.parse(readFileSync(join(DIR, section, f), 'utf8')) as Case]);

/** As JSON keeps it (undefined keys dropped): what a fixture can say. */
const json = (v: unknown) => JSON.parse(JSON.stringify(v ?? null)) as unknown;

test('every fact section has its cases, and every fixture folder is a section', () => {
  const names = SECTIONS.map((s) => s.name);
  assert.equal(new Set(names).size, names.length, 'section names are unique');
  for (const n of names) assert.match(n, /^\w+$/, 'a marker is one word');
  assert.deepEqual(readdirSync(DIR).sort(), [...names].sort());
  for (const n of names) assert.ok(cases(n).length > 0, `${n}: no case`);
});

for (const section of SECTIONS) {
  test(`facts section ${section.name}: its cases`, () => {
    for (const [file, c] of cases(section.name)) {
      const where = `${section.name}/${file} (${c.about})`;
      assert.ok(Array.isArray(c.output) && c.output.every((l) => typeof l === 'string'), `${where}: output is lines`);
      if (c.error !== undefined) {
        assert.equal(c.fact, undefined, `${where}: a case parses or is refused, not both`);
        assert.throws(() => section.parse(c.output), (e: unknown) => e instanceof FactsError && new RegExp(c.error!).test(e.message), where);
        continue;
      }
      const value = section.parse(c.output);
      assert.deepEqual(json(value), c.fact, `${where}: parsed`);
      const shown = section.show?.(value as never);
      assert.deepEqual(json(shown), c.shows ?? null, `${where}: shown`);
      // What a fact shows is a robot field every output knows (src/report/fields.ts and the JSON Schema).
      for (const k of Object.keys(shown ?? {})) assert.ok(ROBOT_FIELDS.some((f) => f.key === k), `${where}: shows ${k}, which is not in ROBOT_FIELDS`);
    }
  });
}

test('the whole facts output parses into every section\'s value; without its end it is refused', () => {
  const first = SECTIONS.map((s) => [s, cases(s.name).find(([, c]) => c.error === undefined)![1]] as const);
  const out = ['', ...first.flatMap(([s, c]) => [`@@FM ${s.name}`, ...c.output, '']), '@@FM end', ''].join('\n');
  const want = Object.assign({}, ...first.map(([, c]) => c.fact));
  assert.deepEqual(json(parseFacts(out)), want);
  assert.throws(() => parseFacts(out.slice(0, out.indexOf('@@FM end'))), /did not complete/);
  // A section missing from the output is parsed from no lines: its refusal, if it has one.
  assert.throws(() => parseFacts(out.replace(/@@FM boot_id\n[^\n]*\n/, '')), /unexpected boot_id/);
});

/** The robot paths a shell names: absolute, two parts or more, not /dev/null or a variable's. */
function pathsIn(sh: string): string[] {
  return [...new Set([...sh.matchAll(/(?<![\w$}.\/-])\/[A-Za-z][\w.*-]*(?:\/[\w.*-]+)+/g)].map((m) => m[0]))].filter((p) => p !== '/dev/null');
}

test('each section declares exactly the robot paths its shell names (the fast-tier sandbox maps those)', () => {
  for (const s of [...SECTIONS, { name: 'prelude', ...PRELUDE }]) assert.deepEqual([...pathsIn(s.sh)].sort(), [...new Set(s.reads)].sort(), s.name);
  // The script is the sections' (after its environment, a PATH): nothing outside them reads the robot.
  const all = new Set([...SECTIONS.flatMap((s) => s.reads), ...PRELUDE.reads]);
  for (const p of pathsIn(FACTS_SCRIPT.replace(ENV_SH, ''))) assert.ok(all.has(p), p);
});
