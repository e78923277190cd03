/**
 * docs/architecture.md's "How to add a fact" kept honest: its steps followed with a fake fact (the reverse
 * path filter, net.ipv4.conf.all.rp_filter: the kind of fact issue 27 tried with net.ipv4.ip_forward) —
 * declared beside the real sections, its facts script run under a real `sh` in the fast-tier sandbox, its
 * value parsed and shown — and the files and symbols the how-tos (a fact, a command) name exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FACT_READS, FACTS_SCRIPT, SECTIONS } from '../../src/facts/facts.js';
import { fact, FactsError, factsScript, parseWith, readsOf, shownWith, type FactsOf } from '../../src/facts/section.js';
import { BOOT_ID_PATH } from '../../src/remote/paths.js';
import { shQuote } from '../../src/remote/script.js';
import { run } from '../../src/util/proc.js';
import { kernelFiles, placeInSandbox, sandboxRoot, SYSTEMCTL } from '../helpers/stubs.js';

const RP_FILTER = '/proc/sys/net/ipv4/conf/all/rp_filter';

// Steps 1-5: one section object.
const FAKE = fact({
  name: 'rp_filter',
  sh: `read -r x < ${shQuote(RP_FILTER)} && echo "$x"`,
  reads: [RP_FILTER],
  parse: (l): { /** net.ipv4.conf.all.rp_filter: 0 off, 1 strict, 2 loose. */ rpFilter?: number } => {
    const x = l[0]?.trim();
    if (x === undefined || x === '') return {};
    if (!/^[012]$/.test(x)) throw new FactsError(`unexpected rp_filter '${x.slice(0, 20)}'`);
    return { rpFilter: Number(x) };
  },
  show: (f): { rpFilter?: number } => ({ rpFilter: f.rpFilter }),
});
const LIST = [...SECTIONS, FAKE] as const;

/** The facts script of LIST under a real sh in a fast-tier sandbox whose kernel says `rpFilter`. */
async function gather(rpFilter: string): Promise<{ facts: FactsOf<typeof LIST>; root: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'fmhowto-'));
  const root = sandboxRoot(dir, true, { reads: readsOf(LIST), kernel: { [RP_FILTER]: rpFilter } });
  const stubs = { systemctl: SYSTEMCTL, ip: '#!/bin/sh\n', iptables: '#!/bin/sh\necho "iptables v1.8.9 (nf_tables)"\n' };
  for (const [name, body] of Object.entries(stubs)) writeFileSync(join(dir, 'bin', name), body, { mode: 0o755 });
  const script = placeInSandbox(factsScript(LIST), dir, root, readsOf(LIST));
  const r = await run('sh', ['-c', script], { nothrow: true, env: { ...process.env, SANDBOX: dir, PATH: `${dir}/bin:/usr/bin:/bin` } });
  assert.equal(r.exitCode, 0, r.stderr);
  return { facts: parseWith(LIST, r.stdout), root };
}

test('how to add a fact: a fake fact declared as documented is gathered, parsed and shown (fast tier)', async () => {
  assert.ok(!FACT_READS.includes(RP_FILTER), 'a fact fleetmasq does not have');
  const { facts, root } = await gather('2\n');
  // Typed: the derived Facts has the new key (this line would not compile otherwise).
  const loose: number | undefined = facts.rpFilter;
  assert.equal(loose, 2);
  assert.equal(facts.bootId, readFileSync(join(root, BOOT_ID_PATH), 'utf8').trim(), "the sandbox's boot id, not the machine's");
  assert.deepEqual(facts.storage?.mounts.map((m) => m.mp), ['/'], "the sandbox's /proc/mounts, not the machine's");
  const shown = shownWith(LIST, facts);
  assert.equal(shown.rpFilter, 2);
  assert.equal(shown.bootId, facts.bootId);
  assert.equal((await gather('0\n')).facts.rpFilter, 0);
  // Hostile output is refused by its parser.
  assert.throws(() => FAKE.parse(['1; reboot']), FactsError);
});

test('how to add a fact: a kernel path read without being declared, or declared without sandbox content, is an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmhowto-'));
  try {
    assert.throws(() => sandboxRoot(dir, true, { reads: readsOf(LIST) }), /rp_filter: the fast-tier sandbox has no content/);
    const root = sandboxRoot(dir, true);
    // The real facts' reads only: the fake's path would be the machine's own.
    assert.throws(() => placeInSandbox(factsScript(LIST), dir, root), /reads \/proc\/sys\/net\/ipv4\/conf\/all\/rp_filter, which no fact declares/);
    assert.doesNotThrow(() => placeInSandbox(FACTS_SCRIPT, dir, root));
    // Every kernel path the real facts read has the fast-tier robot's content (or is absent on purpose).
    for (const p of FACT_READS.filter((x) => /^\/(proc|sys)\//.test(x))) assert.ok(p in kernelFiles(true), p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The text of a markdown section, from its heading to the next heading of its level or higher. */
function mdSection(md: string, heading: string): string {
  const lines = md.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `docs/architecture.md has no '${heading}'`);
  const level = /^#+/.exec(heading)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && /^#+/.exec(l)![0].length <= level);
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** Checks that each file a how-to names exists, and each symbol in backticks is declared in one of them. */
function honest(heading: string): { files: string[]; symbols: string[] } {
  const text = mdSection(readFileSync('docs/architecture.md', 'utf8'), heading);
  // Placeholders (NAME, CASE, TOPIC, KEY) are not files.
  const files = [...new Set([...text.matchAll(/\b(?:src|test|docs|schemas)\/[\w./-]*\w/g)].map((m) => m[0]))].filter((f) => !/[A-Z]{3,}/.test(f));
  for (const f of files) assert.ok(existsSync(f), `${heading}: ${f} does not exist`);
  const sources = files.filter((f) => f.endsWith('.ts')).map((f) => readFileSync(f, 'utf8'));
  const symbols = [...new Set([...text.matchAll(/`([A-Za-z_]\w*)(?:\(\))?`/g)].map((m) => m[1]!))].filter((s) => s !== 'null' && !/[A-Z]{3,}Command|^NAME$/.test(s));
  for (const s of symbols) {
    const declared = new RegExp(`\\b(?:function|const|class|interface|type|let)\\s+${s}\\b|^\\s+(?:readonly\\s+)?${s}\\??:|export\\s*\\{[^}]*\\b${s}\\b`, 'm');
    assert.ok(sources.some((src) => declared.test(src)), `${heading}: \`${s}\` is declared in none of the files it names (${files.join(', ')})`);
  }
  return { files, symbols };
}

test('the how-tos name files and symbols that exist', () => {
  const f = honest('### How to add a fact');
  for (const s of ['fact', 'SECTIONS', 'name', 'sh', 'reads', 'parse', 'show', 'kernelFiles', 'placeInSandbox', 'ROBOT_FIELDS']) assert.ok(f.symbols.includes(s), `the fact how-to names ${s}`);
  assert.ok(f.files.includes('test/unit/facts-howto.test.ts'));
  const c = honest('### How to add a command');
  for (const s of ['COMMANDS', 'FLAGS', 'TASKS', 'run', 'TOPICS']) assert.ok(c.symbols.includes(s), `the command how-to names ${s}`);
  for (const p of ['src/cli/commands.ts', 'src/cli/dispatch.ts', 'docs/reference.md', 'test/unit/docs.test.ts', 'src/cli/help.ts']) assert.ok(c.files.includes(p), `the command how-to names ${p}`);
});
