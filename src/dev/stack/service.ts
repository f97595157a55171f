// A local server process the embedded stack and the tests run: started with execa (argument
// array, no shell), considered up when a readiness probe succeeds, stopped with SIGTERM then SIGKILL.
import { createServer } from 'node:net';
import { execa, type ResultPromise } from 'execa';

export interface RunningService {
  readonly name: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly name: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Resolves true once the service answers. */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs?: number;
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

export async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status < 500;
  } catch {
    return false;
  }
}

export async function startService(opts: StartOptions): Promise<RunningService> {
  const child: ResultPromise = execa(opts.file, [...opts.args], {
    env: opts.env,
    cwd: opts.cwd,
    reject: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    cleanup: true,
  });
  // Keep the last lines so a failed start explains itself.
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const done = child.then(() => {
    exited = true;
  });

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (!(await opts.ready())) {
    if (exited) {
      throw new Error(`${opts.name} exited during start-up (${opts.file}):\n${tail.join('\n')}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${opts.name} did not become ready within ${(opts.readyTimeoutMs ?? 60_000) / 1000}s:\n${tail.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }

  return {
    name: opts.name,
    pid: child.pid,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(killer);
    },
  };
}
