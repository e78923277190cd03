// ssh2 instantiates this WebAssembly module (poly1305, for chacha20-poly1305) as soon as it is loaded,
// and there is no WebAssembly while node builds a snapshot. In the snapshot this shim stands in for it:
// the instantiation waits until the snapshot's main function runs (globalThis.__fleetmasqRuntimeReady,
// called by src/cli/snapshot.ts before any command), so it happens at run time as it would unbundled.
'use strict';
const instantiate = require('ssh2/lib/protocol/crypto/poly1305.js');
let release;
const ready = new Promise((resolve) => {
  release = resolve;
});
globalThis.__fleetmasqRuntimeReady = () => release();
module.exports = (...args) => ready.then(() => instantiate(...args));
