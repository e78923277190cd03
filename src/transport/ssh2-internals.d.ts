// ssh2's internal Protocol class (no published types): src/transport/fastauth.ts patches it at load.
declare module 'ssh2/lib/protocol/Protocol.js' {
  const Protocol: unknown;
  export default Protocol;
}
