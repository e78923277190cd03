/**
 * The entry of the start-up snapshot (see scripts/snapshot.mjs and docs/benchmarks.md).
 *
 * `npm run build` bundles this file with everything it imports into one script and runs it under
 * `node --build-snapshot`: the modules a fleet command needs (ssh2, node-ssh, yaml, the validators,
 * fleetmasq's own) are then already loaded in the heap that node deserializes at start, instead of being
 * read, compiled and run on every command. bin/fleetmasq.js starts node from that snapshot when it
 * exists and was built by the same node binary.
 *
 * What is evaluated while the snapshot is built is frozen into it, so it must not depend on the
 * machine, the terminal or the environment of a run. What does is refreshed below, when a run starts:
 * the package's location (for the modules' import.meta.url, which the bundle turns into a function of
 * it), whether stdout is a terminal, and ssh2's WebAssembly poly1305 (no WebAssembly while a snapshot
 * is built: it is instantiated at run time, before any connection can need it). Commands not loaded
 * here (lab, demo...) are evaluated on first use, at run time, like the unbundled CLI's.
 */
import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import v8 from 'node:v8';
import { main } from './main.js';
import { stdio } from './output.js';
// Loaded into the snapshot: every fleet command (apply, check, verify, remove, reboot) runs through it.
import './fleet.js';
// and the dispatch of every command but --version and the top help (main.ts loads it on first use).
import './dispatch.js';

interface SnapshotGlobals {
  /** The package's root directory (the bundle's import.meta.url is resolved against it). */
  __fleetmasqRoot?: string;
  /** Releases ssh2's poly1305 instantiation (set by the bundle's shim; see scripts/snapshot.mjs). */
  __fleetmasqRuntimeReady?: () => void;
}

v8.startupSnapshot.setDeserializeMainFunction(() => {
  const g = globalThis as SnapshotGlobals;
  // process.argv[1] is bin/fleetmasq.js (through any symlink, e.g. npm link's).
  g.__fleetmasqRoot = resolve(dirname(realpathSync(process.argv[1]!)), '..');
  stdio.isTTY = Boolean(process.stdout.isTTY);
  g.__fleetmasqRuntimeReady?.();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err instanceof Error && err.stack ? err.stack : String(err));
      process.exitCode = 1;
    },
  );
});
