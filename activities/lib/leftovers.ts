// What a worker that dies mid-step (kill -9, OOM, a lost node) leaves behind: the process groups of
// its children (uv and the build backend it started, buildah, git), their private temporary
// directories and the credential files written for tools. Everything of that kind is created here
// with its owner's identity (pid plus start time) in its name or record, so the next worker on the
// machine can tell an orphan from a live sibling's and removes only orphans (sweepLeftovers, run
// before the worker polls).
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkerSettings } from './settings';

/** A process as the kernel knows it: its pid and its start time in clock ticks since boot, which a process that reuses the pid does not share. */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: number;
}

interface ProcStat {
  readonly state: string;
  readonly pgid: number;
  readonly startTime: number;
}

/** /proc/<pid>/stat; undefined when there is no such process (or no /proc: not Linux). */
async function procStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const pgid = Number(rest[2]);
  const startTime = Number(rest[19]);
  if (!rest[0] || !Number.isInteger(pgid) || !Number.isInteger(startTime)) return undefined;
  return { state: rest[0], pgid, startTime };
}

/** The identity of a running process; undefined when it is gone (a zombie counts as gone). */
export async function identify(pid: number): Promise<ProcessIdentity | undefined> {
  const s = await procStat(pid);
  return s && s.state !== 'Z' ? { pid, startTime: s.startTime } : undefined;
}

async function isAlive(p: ProcessIdentity): Promise<boolean> {
  return (await identify(p.pid))?.startTime === p.startTime;
}

let self: Promise<ProcessIdentity | undefined> | undefined;
function selfIdentity(): Promise<ProcessIdentity | undefined> {
  self ??= identify(process.pid);
  return self;
}

/** When this process started, in ms since the epoch. */
function processStartMs(): number {
  return Date.now() - process.uptime() * 1000;
}

/** Temporary directories of a step: dists being built, private HOMEs of children, registry credentials. */
export type TempKind = 'build' | 'publish' | 'auth' | 'buildx' | 'home' | 'job';

// tagship-<kind>-<owner pid>.<owner start time>-<mkdtemp's six characters>
const OWNED = /^tagship-(build|publish|auth|buildx|home|job)-(\d+)\.(\d+)-[A-Za-z0-9]{6}$/;
// Made by tagship before directories named their owner. Only these kinds: test suites and other
// tools use tagship-publish-*, tagship-home-* roots that are not ours to remove.
const UNOWNED = /^tagship-(build|auth|buildx)-[A-Za-z0-9]{6}$/;

/**
 * A fresh directory only this user can enter (mkdtemp makes it 0700), named for this process so a
 * later worker's sweep removes it if this process dies before its `finally` does.
 */
export async function ownedTempDir(kind: TempKind, parent: string = tmpdir()): Promise<string> {
  const me = await selfIdentity();
  const owner = me ? `${me.pid}.${me.startTime}` : `${process.pid}.0`;
  await mkdir(parent, { recursive: true });
  return mkdtemp(join(parent, `tagship-${kind}-${owner}-`));
}

interface ChildRecord {
  readonly pgid: number;
  readonly startTime: number;
  readonly owner: ProcessIdentity;
  readonly command: string;
  readonly startedAt: string;
}

let recordDir: string | undefined;

/** Where a worker records its running children: a small runtime directory under its work dir. */
export function childRecordDir(workDir: string): string {
  return join(workDir, 'run', 'children');
}

/** From now on every child this process starts is recorded in `dir` until it ends (undefined: not recorded). */
export function recordChildrenIn(dir: string | undefined): void {
  recordDir = dir;
}

/**
 * Records the process group `pid` leads while it runs; the returned function removes the record.
 * Best effort: a child that cannot be recorded still runs (and is still killed on cancel); only a
 * later sweep would miss it.
 */
export async function recordChild(pid: number, command: string): Promise<() => Promise<void>> {
  const dir = recordDir;
  const none = () => Promise.resolve();
  if (!dir) return none;
  const [child, owner] = await Promise.all([identify(pid), selfIdentity()]);
  // Already gone, or no /proc to prove identity with later: nothing a sweep could safely kill.
  if (!child || !owner) return none;
  const file = join(dir, `${pid}.${child.startTime}.json`);
  const record: ChildRecord = { pgid: pid, startTime: child.startTime, owner, command, startedAt: new Date().toISOString() };
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(file, JSON.stringify(record), { mode: 0o600 });
  } catch {
    return none;
  }
  return () => rm(file, { force: true });
}

function parseRecord(text: string): ChildRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<ChildRecord>;
    const int = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
    if (!int(r.pgid) || !int(r.startTime) || !r.owner || !int(r.owner.pid) || !int(r.owner.startTime) || typeof r.command !== 'string') return undefined;
    return {
      pgid: r.pgid,
      startTime: r.startTime,
      owner: { pid: r.owner.pid, startTime: r.owner.startTime },
      command: r.command,
      startedAt: String(r.startedAt),
    };
  } catch {
    return undefined;
  }
}

/** Live processes whose process group is `pgid`. */
export async function groupMembers(pgid: number): Promise<(ProcessIdentity & { pgid: number })[]> {
  const members: (ProcessIdentity & { pgid: number })[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const s = await procStat(Number(entry));
    if (s && s.pgid === pgid && s.state !== 'Z') members.push({ pid: Number(entry), startTime: s.startTime, pgid });
  }
  return members;
}

export interface KilledGroup {
  readonly pgid: number;
  readonly command: string;
  /** How many processes of the group were still running. */
  readonly processes: number;
}

export interface SweepReport {
  readonly killed: readonly KilledGroup[];
  /** Temporary directories (and the credential files in them) removed. */
  readonly removed: readonly string[];
}

/** Kills the orphaned process groups recorded in `dir`: those whose owner is gone and whose leader is still the recorded process. */
async function killOrphanGroups(dir: string): Promise<KilledGroup[]> {
  const killed: KilledGroup[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const file = join(dir, name);
    const record = parseRecord(await readFile(file, 'utf8').catch(() => ''));
    if (record && (await isAlive(record.owner))) continue; // a live worker's running child
    if (record) {
      const leader = await identify(record.pgid);
      // The pid now names another process: the recorded group ended long ago.
      const reused = leader !== undefined && leader.startTime !== record.startTime;
      // Without its leader a group is still ours while members remain: the kernel does not hand
      // out a pid that is still some group's id. Members started after the recorded leader.
      const members = reused ? [] : (await groupMembers(record.pgid)).filter((m) => m.startTime >= record.startTime);
      if (members.length > 0) {
        try {
          process.kill(-record.pgid, 'SIGKILL');
          killed.push({ pgid: record.pgid, command: record.command, processes: members.length });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
    }
    await rm(file, { force: true });
  }
  return killed;
}

/** Removes `parent`'s tagship temporary directories whose owner is gone, and unowned ones older than this process. */
async function removeOrphanDirs(parent: string, canProve: boolean): Promise<string[]> {
  const removed: string[] = [];
  const started = processStartMs();
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const owned = OWNED.exec(name);
    let orphan = false;
    if (owned) {
      orphan = canProve && !(await isAlive({ pid: Number(owned[2]), startTime: Number(owned[3]) }));
    } else if (UNOWNED.test(name)) {
      const s = await stat(join(parent, name)).catch(() => undefined);
      orphan = s !== undefined && s.isDirectory() && s.mtimeMs < started;
    }
    if (!orphan) continue;
    await rm(join(parent, name), { recursive: true, force: true });
    removed.push(join(parent, name));
  }
  return removed;
}

/**
 * Clears what dead workers on this machine left behind, then records this worker's children under
 * its work dir. Run it once, before the worker polls; the report is for the worker's log.
 * Needs Linux's /proc to prove which processes are orphans; elsewhere only directories are swept.
 */
export async function sweepLeftovers(settings: Pick<WorkerSettings, 'workDir'>): Promise<SweepReport> {
  const records = childRecordDir(settings.workDir);
  // Groups first: their processes may still be writing into the directories removed next.
  const canProve = (await selfIdentity()) !== undefined;
  const killed = canProve ? await killOrphanGroups(records) : [];
  const removed = [...(await removeOrphanDirs(tmpdir(), canProve)), ...(await removeOrphanDirs(join(settings.workDir, 'buildah'), canProve))];
  recordChildrenIn(records);
  return { killed, removed };
}
