// ssh2's internal Protocol class (no published types): src/transport/fastauth.ts patches it at load.
declare module 'ssh2/lib/protocol/Protocol.js' {
  const Protocol: unknown;
  export default Protocol;
}

// ssh2's key exchange module (kexinit, KexInit...): src/transport/fastauth.ts reads it.
declare module 'ssh2/lib/protocol/kex.js' {
  const kex: unknown;
  export default kex;
}
