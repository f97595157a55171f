// Which process owns the stack in a data dir, and which servers it started: `stack.json` (0600),
// created atomically by the process that starts the stack and removed when it stops it.
//
// It is what makes a restart safe after the owner died without stopping its servers (kill -9
// where the kernel cannot kill them along, a crash between spawn and setpriv): the servers it
// names are stopped before new ones start, but only those proven to be the ones recorded (the
// same boot, pid and start time, or the service's random token in the environment), so a pid
// reused by an unrelated process is never touched. While the owner lives the stack is its own,
// and a second start on the same data dir is refused: its servers die with their owner, so
// borrowing them would leave the second process on a stack that vanishes under it.
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { createPrivateFile, writePrivateFile } from './private-files';
import { waitPortsFree } from './ports';
import { bootId, commandLine, isSameProcess, processInfo, processesWithEnvironment } from './process-table';
import { SERVICE_TOKEN_ENV, httpOk, type RunningService } from './service';
import { temporalAnswers } from './temporal';

const STATE_FILE = 'stack.json';

const health = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('http'), url: z.url() }).strict(),
  z.object({ kind: z.literal('temporal'), address: z.string().min(1), namespace: z.string().min(1) }).strict(),
]);
export type ServiceHealth = z.infer<typeof health>;

const pid = z.number().int().positive();
const ticks = z.number().int().nonnegative();

const stateSchema = z
  .object({
    version: z.literal(1),
    stackId: z.string().regex(/^[0-9a-f]{32}$/),
    bootId: z.string().optional(),
    owner: z.object({ pid, startTime: ticks.optional() }).strict(),
    services: z.array(
      z
        .object({
          name: z.string().min(1),
          pid,
          pgid: pid,
          startTime: ticks.optional(),
          token: z.string().regex(/^[0-9a-f]{24}$/),
          ports: z.array(z.number().int().min(1).max(65535)),
          health,
        })
        .strict(),
    ),
  })
  .strict();
type StackState = z.infer<typeof stateSchema>;

/** Another process runs the stack in this data dir. */
export class StackInUseError extends Error {
  override name = 'StackInUseError';
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
    message: string,
  ) {
    super(message);
  }
}

export interface StackClaim {
  readonly stackId: string;
  readonly stateFile: string;
  /** Adds a started server to the state file. */
  record(service: RunningService, health: ServiceHealth): Promise<void>;
  /** Removes the state file (if it is still this claim's). */
  release(): Promise<void>;
}

export function stateFile(dataDir: string): string {
  return join(dataDir, STATE_FILE);
}

function serialize(state: StackState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** The state file's text and what it says; `state` is undefined when it does not parse (it is then stale). */
async function readState(file: string): Promise<{ raw: string; state: StackState | undefined } | undefined> {
  const raw = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (raw === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { raw, state: undefined };
  }
  const parsed = stateSchema.safeParse(json);
  return { raw, state: parsed.success ? parsed.data : undefined };
}

function sameBoot(state: StackState): boolean {
  const now = bootId();
  return state.bootId === undefined || now === undefined || state.bootId === now;
}

/** True when the recorded process still runs; without a start time to compare, any live pid counts (never kill on a guess). */
function stillRuns(state: StackState, p: { pid: number; startTime?: number | undefined }): boolean {
  if (!sameBoot(state)) return false;
  if (p.startTime !== undefined && processInfo(p.pid) !== undefined) return isSameProcess(p.pid, p.startTime);
  try {
    process.kill(p.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function healthy(h: ServiceHealth): Promise<boolean> {
  return h.kind === 'http' ? httpOk(h.url) : temporalAnswers(h.address, h.namespace);
}

async function inUse(dataDir: string, state: StackState): Promise<StackInUseError> {
  const answers = await Promise.all(state.services.map(async (s) => `${s.name} ${(await healthy(s.health)) ? 'answers' : 'does NOT answer'}`));
  const owner = `pid ${state.owner.pid} (${commandLine(state.owner.pid) ?? 'command unknown'})`;
  return new StackInUseError(
    dataDir,
    state.owner.pid,
    `the dev stack in ${dataDir} is already running, owned by ${owner}` +
      (answers.length ? `: ${answers.join(', ')}` : ' (still starting)') +
      '; stop that process first (Ctrl-C where it runs), or start this one with another data dir and other ports',
  );
}

interface Orphan {
  readonly pid: number;
  readonly startTime: number | undefined;
  readonly service: string;
}

/** The processes of `state`'s servers still running, proven to be the recorded ones. */
function survivors(state: StackState): Orphan[] {
  const found = new Map<number, string>();
  // Whatever carries a token: the servers, and anything they started.
  for (const { pid, value } of processesWithEnvironment(
    SERVICE_TOKEN_ENV,
    state.services.map((s) => s.token),
  )) {
    found.set(pid, state.services.find((s) => s.token === value)?.name ?? 'server');
  }
  // Where environments cannot be read, the recorded servers themselves, by their start times.
  for (const s of state.services) {
    if (s.startTime !== undefined && sameBoot(state) && isSameProcess(s.pid, s.startTime)) found.set(s.pid, s.name);
  }
  found.delete(process.pid);
  return [...found].map(([pid, service]) => ({ pid, startTime: processInfo(pid)?.startTime, service }));
}

/** Gone, or its pid now names another process. */
function gone(p: Orphan): boolean {
  const info = processInfo(p.pid);
  return info === undefined || info.zombie || (p.startTime !== undefined && info.startTime !== p.startTime);
}

/** Stops the servers a dead owner left behind: SIGTERM, then SIGKILL for what is still there. */
async function stopOrphans(state: StackState, log: (line: string) => void): Promise<void> {
  const orphans = survivors(state);
  if (orphans.length === 0) return;
  for (const [signal, waitMs] of [
    ['SIGTERM', 5000],
    ['SIGKILL', 5000],
  ] as const) {
    for (const p of orphans.filter((o) => !gone(o))) {
      try {
        process.kill(p.pid, signal);
      } catch {
        // Gone meanwhile.
      }
    }
    const deadline = Date.now() + waitMs;
    while (!orphans.every(gone) && Date.now() < deadline) await sleep(100);
    if (orphans.every(gone)) break;
  }
  const names = [...new Set(orphans.map((o) => o.service))].join(', ');
  log(
    `tagship dev: stopped ${names} (pid ${orphans.map((o) => o.pid).join(', ')}) left running by an earlier stack ` +
      `whose owner, pid ${state.owner.pid}, is gone`,
  );
}

/**
 * Makes this process the owner of the stack in `dataDir`: refuses (StackInUseError) while another
 * live owner has it; stops what a dead owner left running and waits for its ports to be freed.
 */
export async function claimStack(dataDir: string, log: (line: string) => void): Promise<StackClaim> {
  const file = stateFile(dataDir);
  const me = processInfo(process.pid);
  const boot = bootId();
  const state: StackState = {
    version: 1,
    stackId: randomBytes(16).toString('hex'),
    ...(boot ? { bootId: boot } : {}),
    owner: { pid: process.pid, ...(me ? { startTime: me.startTime } : {}) },
    services: [],
  };
  // A stale file is removed in one round and the file is ours in the next, unless another process
  // claimed it in between (then it is that process's, and in use, in the round after).
  for (let round = 0; round < 3; round++) {
    if (await createPrivateFile(file, serialize(state))) return claimHandle(file, state);
    const existing = await readState(file);
    if (existing === undefined) continue;
    if (existing.state) {
      if (stillRuns(existing.state, existing.state.owner)) throw await inUse(dataDir, existing.state);
      await stopOrphans(existing.state, log);
      await waitPortsFree(
        existing.state.services.flatMap((s) => s.ports),
        10_000,
      );
    }
    // Only the stale file just judged: a newer one is another owner's claim.
    if ((await readFile(file, 'utf8').catch(() => undefined)) === existing.raw) await rm(file, { force: true });
  }
  throw new Error(`could not claim the dev stack in ${dataDir}: ${file} keeps being replaced by another process`);
}

function claimHandle(file: string, state: StackState): StackClaim {
  let writes = Promise.resolve();
  const write = () => (writes = writes.then(() => writePrivateFile(file, serialize(state))));
  return {
    stackId: state.stackId,
    stateFile: file,
    async record(service, h) {
      state.services.push({
        name: service.name,
        pid: service.pid,
        pgid: service.pgid,
        ...(service.startTime !== undefined ? { startTime: service.startTime } : {}),
        token: service.token,
        ports: [...service.ports],
        health: h,
      });
      await write();
    },
    async release() {
      await writes.catch(() => undefined);
      const current = await readState(file);
      if (current?.state?.stackId === state.stackId) await rm(file, { force: true });
    },
  };
}
