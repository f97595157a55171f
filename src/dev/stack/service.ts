// A local server process the embedded stack and the tests run: started with execa (argument
// array, no shell), considered up when a readiness probe succeeds and its ports are its own,
// stopped with SIGTERM then SIGKILL to its whole process group.
//
// A server must never outlive the process that started it: an orphan keeps its port and its data
// dir, and the next start would talk to it (or to nothing, once it dies). So each server
// - runs in a process group of its own (a terminal's Ctrl-C reaches only its parent, which stops
//   the servers in order, and a stop reaches whatever the server itself started);
// - is killed with its group when its parent exits or is stopped by a signal it does not handle;
// - on Linux, gets SIGKILL from the kernel when its parent dies in any way, kill -9 included
//   (PR_SET_PDEATHSIG, set by util-linux's setpriv, which then becomes the server);
// - carries a random token in its environment, so a later start can recognise it as the stack's.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { findTool } from '../../../activities/lib/tools';
import { PortInUseError, freePort, portHolder, requirePortsFree } from './ports';
import { portListeners, processGroup, processInfo } from './process-table';

export { freePort };

/** The environment variable holding a server's token (see `RunningService.token`). */
export const SERVICE_TOKEN_ENV = 'TAGSHIP_DEV_SERVICE';

export interface RunningService {
  readonly name: string;
  readonly pid: number;
  /** The server's process group (it leads it: pgid = pid). */
  readonly pgid: number;
  /** From /proc/<pid>/stat; undefined where there is no /proc. */
  readonly startTime: number | undefined;
  /** Random, in the server's environment as TAGSHIP_DEV_SERVICE. */
  readonly token: string;
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly name: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** The ports the server listens on: free before it starts, and its own once it is ready. */
  readonly ports?: readonly number[];
  /** Resolves true once the service answers. */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs?: number;
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

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** Every server this process started and has not stopped yet, by process group. */
const live = new Map<number, () => Promise<void>>();
let hooked = false;

/** The servers die with this process; see the top of the file. */
function hookProcessEnd(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const pgid of live.keys()) killGroup(pgid, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      // Someone else handles it (tagship dev, a Temporal worker): they shut down in order and stop
      // the servers last. Alone, this listener must not keep the process alive: it stops the
      // servers and lets the signal do what it would have done without it.
      if (process.listenerCount(signal) > 1) return;
      for (const pgid of live.keys()) killGroup(pgid, 'SIGTERM');
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Stops every server this process still runs (tagship dev, interrupted while the stack starts). */
export async function stopAllServices(): Promise<void> {
  await Promise.allSettled([...live.values()].map((stop) => stop()));
}

let setprivPath: string | null | undefined;

/** setpriv on Linux (util-linux, part of every Debian/Ubuntu base system); nothing elsewhere. */
function setpriv(): string | undefined {
  if (setprivPath === undefined) setprivPath = process.platform === 'linux' ? findTool('setpriv', 'apt-get install util-linux') : null;
  return setprivPath ?? undefined;
}

export async function startService(opts: StartOptions): Promise<RunningService> {
  const ports = opts.ports ?? [];
  await requirePortsFree(ports, opts.name);
  hookProcessEnd();
  const token = randomBytes(12).toString('hex');
  const guard = setpriv();
  const [file, args] = guard ? [guard, ['--pdeathsig', 'KILL', '--', opts.file, ...opts.args]] : [opts.file, [...opts.args]];
  const child: ResultPromise = execa(file, args, {
    env: { ...opts.env, [SERVICE_TOKEN_ENV]: token },
    cwd: opts.cwd,
    reject: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    detached: true,
    cleanup: false,
  });
  const pid = child.pid;
  if (pid === undefined) {
    const result = await child;
    throw new Error(`${opts.name} could not be started (${opts.file}): ${result.message ?? 'no pid'}`);
  }
  // Read now, while the pid is surely this server's (setpriv keeps its pid when it becomes the server).
  const startTime = processInfo(pid)?.startTime;
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

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (!exited) {
        killGroup(pid, 'SIGTERM');
        const killer = setTimeout(() => killGroup(pid, 'SIGKILL'), 5000);
        await done;
        clearTimeout(killer);
      }
      // Whatever the server started and left behind.
      killGroup(pid, 'SIGKILL');
      live.delete(pid);
    })());
  live.set(pid, stop);

  try {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    while (!(await opts.ready())) {
      if (exited) throw new Error(`${opts.name} exited during start-up (${opts.file}):\n${tail.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`${opts.name} did not become ready within ${(opts.readyTimeoutMs ?? 60_000) / 1000}s:\n${tail.join('\n')}`);
      await sleep(150);
    }
    // An answer on the port proves nothing if another process took it after the check above (this
    // server then failed to bind and is exiting): the listener must be in this server's group.
    for (const port of ports) {
      const group = processGroup(pid).map((p) => p.pid);
      const listeners = portListeners(port, group);
      if (listeners.listening && listeners.pids.length === 0) throw new PortInUseError(port, opts.name, portHolder(port));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return { name: opts.name, pid, pgid: pid, startTime, token, ports, stop };
}
