// What the stack needs to know about other processes, read from Linux's /proc: whether a recorded
// pid is still the process that was recorded (its start time, since pids are reused), which
// processes form a process group, and who listens on a TCP port. Elsewhere (no /proc) every
// answer is "unknown", and callers never kill on an unknown.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcessInfo {
  readonly pid: number;
  readonly pgid: number;
  /** Clock ticks after boot at which the process started: with the boot id, what makes a pid unique. */
  readonly startTime: number;
  /** Zombies hold no port and no file; they count as gone. */
  readonly zombie: boolean;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The running kernel's boot id; start times from another boot name other processes. */
export function bootId(): string | undefined {
  return readText('/proc/sys/kernel/random/boot_id')?.trim();
}

export function processInfo(pid: number): ProcessInfo | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const pgid = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (!state || !Number.isSafeInteger(pgid) || !Number.isSafeInteger(startTime)) return undefined;
  return { pid, pgid, startTime, zombie: state === 'Z' || state === 'X' };
}

/** True when `pid` is alive and is the very process that started at `startTime`. */
export function isSameProcess(pid: number, startTime: number): boolean {
  const info = processInfo(pid);
  return info !== undefined && !info.zombie && info.startTime === startTime;
}

/** The command line of `pid`, for messages ("pid 4711 (docker-registry serve …)"). */
export function commandLine(pid: number): string | undefined {
  const raw = readText(`/proc/${pid}/cmdline`);
  if (!raw) return undefined;
  const line = raw.replace(/\0+$/, '').split('\0').join(' ');
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** True when `pid`'s environment holds `name=value` (false when it cannot be read). */
export function hasEnvironment(pid: number, name: string, value: string): boolean {
  const raw = readText(`/proc/${pid}/environ`);
  return raw !== undefined && raw.split('\0').includes(`${name}=${value}`);
}

function allPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

/** The processes whose environment holds `name=<one of values>` (with that value), as far as this user may look. */
export function processesWithEnvironment(name: string, values: readonly string[]): { pid: number; value: string }[] {
  const wanted = new Set(values);
  const prefix = `${name}=`;
  const found: { pid: number; value: string }[] = [];
  for (const pid of allPids()) {
    const entry = (readText(`/proc/${pid}/environ`) ?? '').split('\0').find((e) => e.startsWith(prefix) && wanted.has(e.slice(prefix.length)));
    if (entry) found.push({ pid, value: entry.slice(prefix.length) });
  }
  return found;
}

/** The live members of process group `pgid`. */
export function processGroup(pgid: number): ProcessInfo[] {
  return allPids()
    .map(processInfo)
    .filter((p): p is ProcessInfo => p !== undefined && p.pgid === pgid && !p.zombie);
}

/** Socket inodes listening on TCP `port` (IPv4 and IPv6, any address). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (readText(table) ?? '').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      // State 0A is TCP_LISTEN; column 10 is the socket's inode.
      if (!local || cols[3] !== '0A' || !cols[9]) continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(cols[9]);
    }
  }
  return inodes;
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // Closed while we looked.
    }
  }
  return inodes;
}

export interface PortListeners {
  /** False when the kernel shows no listening socket on the port (or /proc is not there). */
  readonly listening: boolean;
  /** The processes whose sockets those are, as far as this user may look. */
  readonly pids: number[];
}

/** Who listens on TCP `port`; only `candidates` are searched when given (cheaper than all of /proc). */
export function portListeners(port: number, candidates?: readonly number[]): PortListeners {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return { listening: false, pids: [] };
  const pids = (candidates ?? allPids()).filter((pid) => [...socketInodes(pid)].some((inode) => inodes.has(inode)));
  return { listening: true, pids };
}

/** "pid 4711 (docker-registry serve /x/config.yml)", or what little is known. */
export function describeProcesses(pids: readonly number[]): string {
  if (pids.length === 0) return 'a process this user cannot see';
  return pids.map((pid) => `pid ${pid} (${commandLine(pid) ?? 'command unknown'})`).join(', ');
}
