// The TCP ports the stack's servers listen on (all on 127.0.0.1): whether one is free, and who
// holds it when it is not, so a taken port stops the start with a name instead of the stack
// quietly talking to whatever answers there.
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeProcesses, portListeners } from './process-table';

export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly port: number,
    /** The service that wanted the port ("docker-registry"). */
    readonly service: string,
    readonly holder: string,
  ) {
    super(`port ${port} (for ${service}) is already in use by ${holder}, which is not this stack's; tagship neither uses nor stops it`);
  }
}

/** A free TCP port on 127.0.0.1 (the OS picks it; a tiny race remains, acceptable for local use). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True when a server could listen on 127.0.0.1:`port` right now. */
export async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(false) : reject(err)));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Who listens on `port`, for an error message. */
export function portHolder(port: number): string {
  return describeProcesses(portListeners(port).pids);
}

/** Throws PortInUseError for the first of `ports` that is taken. */
export async function requirePortsFree(ports: readonly number[], service: string): Promise<void> {
  for (const port of ports) {
    if (!(await portFree(port))) throw new PortInUseError(port, service, portHolder(port));
  }
}

/** Waits (bounded) for `ports` to be released, e.g. by processes just killed; false if one stays taken. */
export async function waitPortsFree(ports: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const taken = [];
    for (const port of ports) if (!(await portFree(port))) taken.push(port);
    if (taken.length === 0) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}
