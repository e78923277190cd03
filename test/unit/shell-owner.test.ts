/**
 * Robot shell has one owner: src/remote (each operation's step, the rule commands, the files written to
 * robots, the change/reboot/audit scripts, quoting, markers). src/facts writes the facts' own sections
 * (their shell next to their parsers; the lab, in lab/, drives test robots); everything else under src builds
 * no shell. This reads every other source file's string and template literals (not its comments or
 * regular expressions) for the constructs robot shell is made of.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** Where shell may be built: src/remote (robot shell), src/facts (the facts' sections); the lab (lab/) is outside src. */
const OWNERS = ['src/remote/', 'src/facts/'];

/** What robot shell is made of (a literal holding one of these is shell, not words). */
const SHELL: [RegExp, string][] = [
  [/[12]?>\s*\/dev\/null/, 'a redirection to /dev/null'],
  [/\|\|\s*(true|:)(\s|;|\)|$)/, "a failure ignored (|| true, || :)"],
  [/\biptables(-nft|-legacy)? -w\b/, 'an iptables command'],
  [/\bnft '|\bnft (list|delete|add|-f)\b/, 'an nft command'],
  [/\bsystemctl /, 'a systemctl command'],
  [/\bsystemd-run\b/, 'a systemd-run command'],
  [/\bfirewall(-offline)?-cmd --/, 'a firewall-cmd command'],
  [/\bfm_[a-z]+/, "fleetmasq's shell helpers and variables (fm_sync, fm_write, fm_step...)"],
  [/\bmkdir -[mp]\b/, 'mkdir'],
  [/\brm -f\b/, 'rm -f'],
  [/\bprintf '%s/, 'printf'],
  [/\$\(/, 'a command substitution'],
  [/#!\s*\/bin\/sh\b|\/bin\/sh -c\b|\bsh -c\b|\bsh -s\b/, 'a shell invocation'],
  [/\bsudo -/, 'sudo'],
  [/;\s*(then|do)\b|\besac\b|\bfi;|\bdone;/, 'shell control flow'],
  [/\bset -[eu]/, 'shell options'],
  [/\bbase64 -d\b/, 'base64 decoding'],
];

/**
 * Display-only literals that look like shell, each with why it is words and not robot shell. Keep it
 * short: shown text should be derived from src/remote's renderers where it quotes a robot command.
 */
const ALLOWED: { file: string; text: RegExp; why: string }[] = [
  {
    file: 'src/inventory/shard.ts',
    text: /--shard \$\(\(JOB_COMPLETION_INDEX \+ 1\)\)\/N/,
    why: "an error message's example for the operator's own Kubernetes Job spec, run on no robot",
  },
];

interface Finding {
  file: string;
  line: number;
  what: string;
  text: string;
}

/** The shell constructs in a source's string and template literals. */
export function shellIn(file: string, source: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const found: Finding[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) {
      // Raw text for templates: `\${x}` and `\n` as written (what a reader of the file sees).
      const text = ts.isStringLiteral(n) ? n.text : (n.rawText ?? n.text);
      const hit = SHELL.find(([re]) => re.test(text));
      if (hit && !ALLOWED.some((a) => a.file === file && a.text.test(text))) {
        found.push({ file, line: sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1, what: hit[1], text: text.slice(0, 120) });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = `${dir}/${e.name}`;
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('no robot shell is built outside src/remote (and the facts sections, the lab)', () => {
  const files = sources('src').filter((f) => !OWNERS.some((o) => f.startsWith(o)));
  // The scan reads the sources themselves: planning, tasks, the CLI, transport and the rest.
  for (const must of ['src/modules/ops.ts', 'src/modules/plan.ts', 'src/tasks/session.ts', 'src/tasks/reboot.ts', 'src/transport/ssh.ts', 'src/cli/main.ts'])
    assert.ok(files.includes(must), `${must} is scanned`);
  const found = files.flatMap((f) => shellIn(f, readFileSync(join(f), 'utf8')));
  assert.deepEqual(
    found.map((f) => `${f.file}:${f.line}: ${f.what}: ${f.text}`),
    [],
    'robot shell belongs in src/remote (render it there, and call the renderer)',
  );
});

test('every allow-list entry still matches a literal (none kept for code that is gone)', () => {
  for (const a of ALLOWED) {
    const sf = ts.createSourceFile(a.file, readFileSync(a.file, 'utf8'), ts.ScriptTarget.Latest, true);
    let seen = false;
    const visit = (n: ts.Node): void => {
      if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateLiteralToken(n)) && a.text.test(ts.isStringLiteral(n) ? n.text : (n.rawText ?? n.text))) seen = true;
      ts.forEachChild(n, visit);
    };
    visit(sf);
    assert.ok(seen, `${a.file}: ${a.why}`);
  }
});

test('the scan finds shell in literals, and not in comments, regular expressions or words', () => {
  const src = [
    '// systemctl daemon-reload 2>/dev/null || true (a comment)',
    "const re = /for fm_i in ([^;]+); do/;",
    "const words = `add live rule: iptables -t nat -A POSTROUTING -o ${i} -j MASQUERADE`;",
    "const a = 'systemctl daemon-reload';",
    'const b = `rm -f ${p}\\nfm_sync ${d}`;',
    "const c = [`x`, `n=$(iptables -w -t nat -S POSTROUTING | grep -c x || true)`];",
    "const d = `if nft list table ${t} >/dev/null 2>&1; then nft delete table ${t}; fi`;",
  ].join('\n');
  const found = shellIn('src/modules/example.ts', src);
  assert.deepEqual([...new Set(found.map((f) => f.line))], [4, 5, 6, 7]);
  assert.equal(found[0]!.what, 'a systemctl command');
});
