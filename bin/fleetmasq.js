#!/bin/sh
':' //; case " $* " in "  "|" --version "|" -V "|*" --help "*|*" -h "*|" help "*|" lab "*|" demo "*) exec node "$0" "$@";; esac; r=$0; [ -L "$r" ] && r=$(readlink -f -- "$r"); case $r in /*) ;; *) r=$PWD/$r;; esac; d=${r%/bin/*} b=$d/dist/snapshot/fleetmasq.blob; [ -z "$FLEETMASQ_NO_SNAPSHOT" ] && [ -f "$b" ] && n=$(command -v node) && [ ! "$n" -nt "$b" ] && read -r m < "$d/dist/snapshot/node" && [ "$n" -ef "$m" ] && exec "$n" --snapshot-blob "$b" "$r" "$@"; exec node "$0" "$@"
// The two lines above are for /bin/sh, which runs this file when it is started as a command
// (`fleetmasq`, `npx fleetmasq`, `bin/fleetmasq.js`): it starts node from the start-up snapshot that
// `npm run build` made (dist/snapshot, see scripts/snapshot.mjs), where fleetmasq's modules are already
// loaded, when that snapshot exists and was built by this same node binary (the same file, not newer
// than the snapshot). Else, with FLEETMASQ_NO_SNAPSHOT set, for --version and help (which load
// nothing else, and start faster without the bigger heap), and for lab and demo (the lab, in the source
// repository only, is not in the snapshot), it runs this file with node. Both ways run the same code.
// For node, line 2 is a string and a comment.
//
// Thin launcher: the CLI lives in dist/src/cli (built by `npm install` through the prepare script).
// Each command loads only its own modules (src/cli/main.ts).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exitCode = 1;
  },
);
