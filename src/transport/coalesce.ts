import type { Socket } from 'node:net';

/**
 * ssh2 writes every SSH packet with its own socket write, and often several in one event (its
 * identification, KEXINIT and the guessed key exchange; NEWKEYS, the service request and the signed
 * login; a channel's requests). Each write is a system call and usually a TCP segment of its own.
 * Corking the socket on a tick's first write and uncorking it when the tick ends sends them together
 * (one writev): same bytes, same order, fewer system calls and segments. Nothing waits longer than the
 * current tick, so no round trip is added.
 */
export function coalesceWrites(socket: Socket): Socket {
  const write = socket.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Socket['write'];
  return socket;
}
