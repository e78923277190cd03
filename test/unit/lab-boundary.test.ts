/**
 * The lab (lab/, built to dist/lab) is test infrastructure, not the product: nothing in src/ imports it
 * (the CLI's lab and demo commands load it when they run, src/cli/lab.ts, and know it by type only), src/
 * has no import cycle, the published package does not contain it, and the CLI of an installed package
 * says that `lab` and `demo` are only in the source repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve('.');
/** The one file of src/ that names the lab: as types, for the modules it loads at run time. */
const LOADER = 'src/cli/lab.ts';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

interface Import {
  /** The imported file, relative to the repository (a .ts source). */
  target: string;
  /** Types only (`import type`, `export type`, `typeof import('…')`): erased, loads nothing at run time. */
  typeOnly: boolean;
}

/** A file's relative imports: static (import/export … from, import '…') and dynamic with a literal name. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (spec.startsWith('.')) found.push({ target: relative(root, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'), typeOnly });
  };
  for (const m of text.matchAll(/^\s*(?:import|export)\b(\s+type\b)?[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm)) add(m[2]!, Boolean(m[1]));
  for (const m of text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) add(m[1]!, false);
  for (const m of text.matchAll(/(\btypeof\s+)?\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[2]!, Boolean(m[1]));
  return found;
}

/** A source, or a generated module's declarations (src/validation/validators.generated.d.ts). */
const exists = (target: string) => graph.has(target) || existsSync(join(root, target.replace(/\.ts$/, '.d.ts')));

const graph = new Map(sources(join(root, 'src')).map((f) => [relative(root, f), importsOf(f)]));

test('the import scan sees the imports it should (static, dynamic, type queries)', () => {
  const main = graph.get('src/cli/main.ts')!.map((i) => i.target);
  assert.ok(main.includes('src/cli/version.ts') && main.includes('src/cli/dispatch.ts'), main.join(' '));
  const dispatch = graph.get('src/cli/dispatch.ts')!.map((i) => i.target);
  assert.ok(dispatch.includes('src/errors.ts') && dispatch.includes('src/cli/fleet.ts'), dispatch.join(' '));
  const loader = graph.get(LOADER)!;
  assert.ok(loader.some((i) => i.typeOnly && i.target === 'lab/lab.ts'), JSON.stringify(loader));
  // Every relative import names a source that exists.
  for (const [file, imports] of graph) for (const i of imports) assert.ok(exists(i.target) || i.target.startsWith('lab/'), `${file} imports ${i.target}, not found`);
});

test('product code never imports the lab: only the loader names it, by type', () => {
  const offenders = [...graph].flatMap(([file, imports]) =>
    imports.filter((i) => i.target.startsWith('lab/') && (file !== LOADER || !i.typeOnly)).map((i) => `${file} → ${i.target}`),
  );
  assert.deepEqual(offenders, []);
});

test('src has no import cycle (of imports that load a module at run time)', () => {
  const edges = (f: string) => graph.get(f)!.filter((i) => !i.typeOnly && graph.has(i.target)).map((i) => i.target);
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]) => {
    state.set(f, 'open');
    for (const t of edges(f)) {
      if (state.get(t) === 'open') cycles.push([...path.slice(path.indexOf(t)), f, t].join(' → '));
      else if (!state.has(t)) visit(t, [...path, f]);
    }
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f, []);
  assert.deepEqual(cycles, []);
});

const BUNDLE = join(root, 'dist', 'snapshot', 'fleetmasq.cjs');

test('the start-up snapshot bundle (scripts/snapshot.mjs) has none of the lab in it', { skip: !existsSync(BUNDLE) && 'no snapshot bundle (npm run build says why)' }, () => {
  const bundle = readFileSync(BUNDLE, 'utf8');
  const lab = readdirSync(join(root, 'dist', 'lab'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(join(root, 'dist', 'lab', f), 'utf8'))
    .join('\n');
  // Text from lab/up.ts, lab/robot-setup.ts and lab/demo.ts.
  for (const marker of ['robots did not come up in time', 'fleetmasq-lab-docker0', '1/6 Boot a lab fleet']) {
    assert.ok(lab.includes(marker), `${marker}: not in dist/lab (the test would prove nothing)`);
    assert.ok(!bundle.includes(marker), `${marker}: the lab is in the product's bundle`);
  }
});

test('the published package has no lab, and its CLI says lab and demo are in the source repository', () => {
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  assert.equal(pack.status, 0, pack.stderr);
  const files = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  assert.ok(files.includes('bin/fleetmasq.js') && files.includes('dist/src/cli/main.js'), files.join(' '));
  assert.deepEqual(files.filter((f) => f.startsWith('lab/') || f.startsWith('dist/lab/') || f.startsWith('dist/test/')), []);
  // The package as installed: its files, and the dependencies (node_modules) beside them.
  const dir = mkdtempSync(join(tmpdir(), 'fm-pkg-'));
  try {
    for (const f of files) cpSync(join(root, f), join(dir, f));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const run = (...args: string[]) => spawnSync(process.execPath, [join(dir, 'bin', 'fleetmasq.js'), ...args], { cwd: dir, encoding: 'utf8' });
    for (const args of [['lab', 'status'], ['demo', '--robots', '2']]) {
      const r = run(...args);
      assert.equal(r.status, 5, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^error: the lab \(fleetmasq lab, fleetmasq demo\) is only in fleetmasq's source repository/, args.join(' '));
    }
    // What needs no lab still works: the commands' help and the rest of the CLI.
    for (const args of [['--version'], ['lab', '--help'], ['demo', '--help'], ['check', '--help']]) assert.equal(run(...args).status, 0, args.join(' '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
