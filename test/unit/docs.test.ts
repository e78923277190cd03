/**
 * The docs cannot drift from the code: `help TOPIC` prints docs/TOPIC.md as shipped; the reference names
 * every command and flag declared in src/cli/commands.ts, each command with exactly its own flags; the
 * README stays a five-minute read with exactly the two set-up commands, and those commands stay true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { COMMANDS, FLAGS, LAB_COMMANDS } from '../../src/cli/commands.js';
import { TOPICS } from '../../src/cli/help.js';
import { cli } from '../helpers/cli.js';

const read = (p: string) => readFileSync(p, 'utf8');
/** docs/*.md that are for developers, not user guides (so not help topics). */
const NOT_TOPICS = ['architecture', 'benchmarks'];

/** The text of a markdown section: from its heading line to the next heading of the same or a higher level. */
function section(md: string, heading: string): string {
  const lines = md.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `no heading '${heading}'`);
  const level = heading.match(/^#+/)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.match(/^#+/)![0].length <= level);
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** The `--flag` names of a section's "Flags:" line. */
function flagsLine(sec: string): string[] {
  const line = sec.split('\n').find((l) => l.startsWith('Flags:'));
  assert.ok(line, `no Flags: line in\n${sec.slice(0, 200)}`);
  return [...line.matchAll(/`--([a-z][a-z-]*)`/g)].map((m) => m[1]!);
}

test('help reference prints docs/reference.md, which names every command and flag of commands.ts', async () => {
  const r = await cli(['help', 'reference']);
  assert.equal(r.code, 0, r.stderr);
  const ref = read('docs/reference.md');
  assert.equal(r.stdout, ref, 'the same text as the doc');
  for (const c of Object.keys(COMMANDS)) assert.ok(ref.includes(`\n### ${c}\n`), `command ${c} has no section`);
  for (const c of Object.keys(LAB_COMMANDS)) assert.ok(ref.includes(`\n#### lab ${c}\n`), `lab ${c} has no section`);
  for (const [name, f] of Object.entries(FLAGS)) {
    assert.ok(ref.includes(`--${name}`), `flag --${name} is not in the reference`);
    if ('short' in f) assert.ok(ref.includes(`\`-${f.short}\`, \`--${name}`), `-${f.short} is not given for --${name}`);
  }
});

test("the reference lists each command's own flags, exactly, and each flag once in its table", () => {
  const ref = read('docs/reference.md');
  for (const [c, spec] of Object.entries(COMMANDS)) {
    assert.deepEqual(flagsLine(section(ref, `### ${c}`)).sort(), [...spec.flags].sort(), `the flags of ${c}`);
  }
  for (const [c, spec] of Object.entries(LAB_COMMANDS)) {
    assert.deepEqual(flagsLine(section(ref, `#### lab ${c}`)).sort(), [...spec.flags].sort(), `the flags of lab ${c}`);
  }
  const rows = section(ref, '## Flags')
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => l.split(' | ')[0]!.match(/`--([a-z][a-z-]*)/)![1]!);
  assert.deepEqual([...rows].sort(), Object.keys(FLAGS).sort(), 'one row per declared flag');
});

test('help alone lists the topics; every user guide in docs/ is a topic, printed as the file says', async () => {
  const list = await cli(['help']);
  assert.equal(list.code, 0);
  for (const t of ['guide', 'reference', 'monitoring']) assert.match(list.stdout, new RegExp(`^  ${t} `, 'm'));
  const docs = readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3));
  for (const d of docs) assert.ok(d in TOPICS || NOT_TOPICS.includes(d), `docs/${d}.md is neither a help topic nor a developer doc`);
  for (const t of Object.keys(TOPICS)) {
    if (!existsSync(`docs/${t}.md`)) continue; // declared ahead of its guide (merged from another branch)
    assert.match(list.stdout, new RegExp(`^  ${t} `, 'm'));
    const r = await cli(['help', t]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, read(`docs/${t}.md`), t);
  }
});

test('help for an unknown topic exits 5 and lists the topics', async () => {
  const r = await cli(['help', 'refrence']);
  assert.equal(r.code, 5);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /unknown help topic 'refrence' \(did you mean 'reference'\?\); the topics are:/);
  for (const t of ['guide', 'reference', 'monitoring']) assert.match(r.stderr, new RegExp(`^  ${t} `, 'm'));
  assert.equal((await cli(['help', 'guide', 'reference'])).code, 5, 'one topic at a time');
});

test('the docs ship in the package', () => {
  const pkg = JSON.parse(read('package.json')) as { files: string[] };
  assert.ok(pkg.files.includes('docs'), 'package.json "files" has docs');
});

test('README: at most 1,300 words, exactly the two set-up commands, and both true', () => {
  const readme = read('README.md');
  const words = readme.split(/\s+/).filter(Boolean).length;
  assert.ok(words <= 1300, `README has ${words} words`);
  const quick = section(readme, readme.split('\n').find((l) => l.startsWith('## Quick start'))!);
  const block = quick.match(/```sh\n([\s\S]*?)```/);
  assert.ok(block, 'the quick start has a sh block');
  const commands = block[1]!.trim().split('\n').map((l) => l.replace(/\s+#.*$/, '').trim());
  assert.deepEqual(commands, ['npm install && npm run demo', 'npm test']);
  assert.equal((readme.match(/```sh/g) ?? []).length, 2, 'one block of set-up commands, one of everyday commands');
  // Both commands do what the README says: the demo runs fleetmasq's demo, the tests are the whole suite, as CI runs them.
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.demo, 'node bin/fleetmasq.js demo');
  assert.match(pkg.scripts.test!, /^npm run build && node test\/run\.js$/);
  assert.match(read('.ci/run'), /\nnpm ci [^\n]*\n(?:.*\n)*npm test\n/);
});

test('README: five everyday commands, each a declared command; links to docs that exist or are declared topics', () => {
  const readme = read('README.md');
  const every = section(readme, '## Everyday commands').match(/```sh\n([\s\S]*?)```/)![1]!.trim().split('\n');
  assert.equal(every.length, 5);
  for (const l of every) assert.ok(l.split(/\s+/)[1]! in COMMANDS, l);
  for (const [, target] of readme.matchAll(/\]\((docs\/[^)#]+)/g)) {
    const topic = target!.match(/^docs\/([a-z]+)\.md$/)?.[1];
    assert.ok(existsSync(target!) || (topic !== undefined && topic in TOPICS), `README links to ${target}, which does not exist`);
  }
});

test('links between the README, the guide and the reference reach a file and a heading that exist', () => {
  /** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
  const slug = (h: string) => h.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
  const anchors = (file: string) => read(file).split('\n').filter((l) => /^#+ /.test(l)).map((l) => slug(l.replace(/^#+ /, '')));
  for (const file of ['README.md', 'docs/guide.md', 'docs/reference.md']) {
    const dir = file.includes('/') ? 'docs/' : '';
    for (const [, target, anchor] of read(file).matchAll(/\]\(([^)#\s]*\.md)?(?:#([^)\s]+))?\)/g)) {
      if (!target && !anchor) continue;
      const path = target ? `${dir}${target}` : file;
      if (!existsSync(path)) continue; // a declared topic merged from another branch (checked above for the README)
      if (anchor) assert.ok(anchors(path).includes(anchor), `${file}: no heading for ${target ?? ''}#${anchor}`);
    }
  }
});
