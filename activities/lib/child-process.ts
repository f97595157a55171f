// The one way activities run programs (uv, git, twine, buildah, docker). A child must not outlive
// its step nor learn the worker's secrets:
// - it leads its own process group, and a cancelled step (the activity's cancellation signal, taken
//   from the activity context, so call sites need not pass it) or a timeout kills the whole group:
//   SIGTERM, then SIGKILL after a grace. uv's build backend and whatever it started die with uv.
//   Whatever a child leaves running in its group when it exits is killed too;
// - it gets an allow-listed environment, never the worker's (which holds TAGSHIP_INDEX_PASSWORD,
//   TAGSHIP_REGISTRY_PASSWORD, TAGSHIP_GITHUB_TOKEN, TAGSHIP_CODEC_KEYS...). A tool's credentials
//   are added per call, to that one child, through its environment (argv is world-readable);
// - by default its HOME and TMPDIR are a fresh private directory removed after it, so a build
//   backend finds no ~/.pypirc, ~/.docker/config.json or ~/.git-credentials of the worker's there;
// - while it runs it is recorded under the worker's work dir (leftovers.ts), so a worker killed
//   with -9 has its orphans killed by the next one;
// - inside an activity it heartbeats, so a cancel reaches even a step with no heartbeat of its own.
import { basename, join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { asyncLocalStorage } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { keepHeartbeating } from './heartbeat';
import { ownedTempDir, recordChild } from './leftovers';

/** How long a cancelled or timed-out child has between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 5_000;

export interface ChildOptions {
  readonly cwd?: string;
  /** Added after the allow-list, for this child only: a tool's own settings or credentials. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Further variables taken from the worker's environment when set (a tool's own settings). */
  readonly pass?: readonly string[];
  /**
   * 'private' (default): HOME and TMPDIR in a fresh 0700 directory removed when the child ends.
   * 'worker': the worker's HOME and TMPDIR, for tools whose configuration lives there (git's
   * credential helpers and known hosts, buildah's storage.conf, docker's buildx builders).
   */
  readonly home?: 'private' | 'worker';
  /**
   * The child runs code from the repository being released (a build backend, Dockerfile RUN
   * steps): passed-through values that carry credentials (a proxy or index URL with user:password)
   * are left out.
   */
  readonly untrusted?: boolean;
  /** Cancels the child besides the activity's own cancellation. */
  readonly signal?: AbortSignal;
  /**
   * false: the activity's cancellation does not stop this child (a short clean-up in a `finally`,
   * such as removing a build container, that must run after a cancel too). Default true.
   */
  readonly cancellable?: boolean;
  readonly timeoutMs?: number;
  /** Written to the child's stdin; without it stdin is closed. */
  readonly input?: string;
  /** Replaced by *** wherever the child's output holds them. */
  readonly secrets?: readonly string[];
  /** Between SIGTERM and SIGKILL (default KILL_GRACE_MS). */
  readonly graceMs?: number;
}

export interface ChildResult {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved, as the operator would have seen them in a terminal. */
  readonly output: string;
}

export class ChildTimeoutError extends Error {
  override name = 'ChildTimeoutError';
}

const PROXIES = ['http_proxy', 'https_proxy', 'no_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY'];
const CA_CERTS = ['SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'];
/** What every child may see of the worker's environment: where programs are, locale and time zone, proxies and CA certificates. */
const BASE = ['PATH', 'LANG', 'LANGUAGE', 'TZ', 'SOURCE_DATE_EPOCH', ...PROXIES, ...CA_CERTS];

/**
 * uv's own settings that choose where build requirements come from and how uv reaches them
 * (never UV_PUBLISH_*, and no per-index credential variables); and pip's, for build backends that
 * run pip themselves (setup_requires). uv's user config (~/.config/uv) is not read in a private
 * HOME: a worker sets its uv options through these variables.
 */
export const UV_PASS = [
  'UV_INDEX',
  'UV_DEFAULT_INDEX',
  'UV_INDEX_URL',
  'UV_EXTRA_INDEX_URL',
  'UV_FIND_LINKS',
  'UV_INDEX_STRATEGY',
  'UV_OFFLINE',
  'UV_NATIVE_TLS',
  'UV_INSECURE_HOST',
  'UV_HTTP_TIMEOUT',
  'UV_HTTP_RETRIES',
  'UV_CONCURRENT_DOWNLOADS',
  'UV_CACHE_DIR',
  'UV_NO_CACHE',
  'UV_PYTHON',
  'UV_PYTHON_PREFERENCE',
  'UV_PYTHON_DOWNLOADS',
  'UV_PYTHON_INSTALL_DIR',
  'UV_PYTHON_INSTALL_MIRROR',
  'UV_MANAGED_PYTHON',
  'UV_NO_MANAGED_PYTHON',
  'UV_BUILD_CONSTRAINT',
  'UV_CONSTRAINT',
  'UV_EXCLUDE_NEWER',
  'UV_PRERELEASE',
  'UV_RESOLUTION',
  'PIP_INDEX_URL',
  'PIP_EXTRA_INDEX_URL',
  'PIP_FIND_LINKS',
  'PIP_CERT',
  'PIP_DEFAULT_TIMEOUT',
  'PIP_DISABLE_PIP_VERSION_CHECK',
  'PIP_NO_INPUT',
];

/**
 * uv's cache and its managed Pythons stay the worker's when HOME is private: otherwise every build
 * would download its build requirements (and perhaps a Python) again.
 */
export function uvWorkerPaths(): Record<string, string> {
  const home = process.env.HOME;
  const env: Record<string, string> = {};
  const cache = process.env.XDG_CACHE_HOME ?? (home ? join(home, '.cache') : undefined);
  const data = process.env.XDG_DATA_HOME ?? (home ? join(home, '.local', 'share') : undefined);
  if (!process.env.UV_CACHE_DIR && cache) env.UV_CACHE_DIR = join(cache, 'uv');
  if (!process.env.UV_PYTHON_INSTALL_DIR && data) env.UV_PYTHON_INSTALL_DIR = join(data, 'uv', 'python');
  return env;
}

/** A value that carries a password or token: a URL with user information in it. */
function carriesCredentials(value: string): boolean {
  return value.split(/[\s,]+/).some((part) => /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*@/i.test(part));
}

/** The environment a child starts with: the allow-list, then `opts.pass`, then `home`, then `opts.env`. */
export function childEnv(opts: Pick<ChildOptions, 'env' | 'pass' | 'untrusted'>, home?: string): Record<string, string> {
  const env: Record<string, string> = {};
  const wanted = new Set([...BASE, ...(opts.pass ?? [])]);
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || !(wanted.has(k) || k.startsWith('LC_'))) continue;
    if (opts.untrusted && carriesCredentials(v)) continue;
    env[k] = v;
  }
  if (home) {
    env.HOME = home;
    env.TMPDIR = join(home, 'tmp');
  } else {
    for (const k of ['HOME', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
  return env;
}

/** The activity's CancelledFailure when the running activity was cancelled; undefined outside an activity or before a cancel. */
export function activityCancellation(): CancelledFailure | undefined {
  const signal = asyncLocalStorage.getStore()?.cancellationSignal;
  if (!signal?.aborted) return undefined;
  return signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure(String(signal.reason ?? 'CANCELLED'));
}

/** Rethrows the activity's cancellation, if it was cancelled, instead of whatever failure a killed child or request caused. */
export function throwIfCancelled(signal?: AbortSignal): void {
  const cancelled = activityCancellation();
  if (cancelled) throw cancelled;
  if (signal?.aborted) throw signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure(String(signal.reason ?? 'CANCELLED'));
}

// Groups this process started and has not seen end: killed if the worker itself exits.
const running = new Set<number>();
let exitHookInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    // ESRCH: the whole group has ended already.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Detached children are not ended by the worker's exit; a worker that exits normally ends them.
  process.once('exit', () => {
    for (const pgid of running) killGroup(pgid, 'SIGKILL');
  });
}

function mask(text: string, secrets: readonly string[] | undefined): string {
  let out = text;
  for (const s of secrets ?? []) if (s) out = out.split(s).join('***');
  return out;
}

/**
 * Runs `file` with `args` (no shell) and resolves with its exit code and output, whatever the exit
 * code; the caller decides what a failure means. Rejects with the activity's CancelledFailure when
 * the step was cancelled (or `opts.signal` aborted), and with ChildTimeoutError after `opts.timeoutMs`.
 */
export async function runChild(file: string, args: readonly string[], opts: ChildOptions = {}): Promise<ChildResult> {
  const activitySignal = opts.cancellable === false ? undefined : asyncLocalStorage.getStore()?.cancellationSignal;
  const signals = [activitySignal, opts.signal].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
  if (signal?.aborted) throwIfCancelled(signal);

  const home = (opts.home ?? 'private') === 'private' ? await ownedTempDir('home') : undefined;
  try {
    if (home) await mkdir(join(home, 'tmp'), { mode: 0o700 });
    const child = execa(file, [...args], {
      reject: false,
      all: true,
      extendEnv: false,
      env: childEnv(opts, home),
      // Its own process group, so one kill reaches everything it started.
      detached: true,
      ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const pgid = child.pid;
    let stopped: 'cancelled' | 'timed out' | undefined;
    let forceKill: NodeJS.Timeout | undefined;
    const stop = (why: 'cancelled' | 'timed out') => {
      if (stopped || pgid === undefined) return;
      stopped = why;
      killGroup(pgid, 'SIGTERM');
      forceKill = setTimeout(() => killGroup(pgid, 'SIGKILL'), opts.graceMs ?? KILL_GRACE_MS);
    };
    const onAbort = () => stop('cancelled');
    const timer = opts.timeoutMs !== undefined ? setTimeout(() => stop('timed out'), opts.timeoutMs) : undefined;
    let forget: () => Promise<void> = () => Promise.resolve();
    if (pgid !== undefined) {
      running.add(pgid);
      installExitHook();
      // The moment the leader exits, what it left in its group goes too: a daemon started by a
      // build backend would otherwise outlive the step (and keep the output pipes open).
      child.once('exit', () => killGroup(pgid, 'SIGKILL'));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
    }
    const stopHeartbeat = keepHeartbeating();
    try {
      if (pgid !== undefined) forget = await recordChild(pgid, basename(file));
      const result = await child;
      const name = basename(file);
      if (stopped === 'cancelled') throwIfCancelled(signal);
      if (stopped === 'timed out') throw new ChildTimeoutError(`${name} did not finish within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s and was killed`);
      if (result.failed && result.exitCode === undefined && !result.signal) {
        // Not started at all (ENOENT, EACCES): a missing tool is the worker's problem, not the release's.
        throw new Error(`${name} could not be started: ${result.shortMessage}`);
      }
      return {
        exitCode: result.exitCode,
        stdout: mask(String(result.stdout ?? ''), opts.secrets),
        stderr: mask(String(result.stderr ?? ''), opts.secrets),
        output: mask(String(result.all ?? ''), opts.secrets),
      };
    } finally {
      stopHeartbeat();
      if (timer) clearTimeout(timer);
      if (forceKill) clearTimeout(forceKill);
      signal?.removeEventListener('abort', onAbort);
      if (pgid !== undefined) {
        // Only when something failed before the child ended; an ended leader's group went at its exit.
        if (child.exitCode === null && child.signalCode === null) killGroup(pgid, 'SIGKILL');
        running.delete(pgid);
      }
      await forget();
    }
  } finally {
    if (home) await rm(home, { recursive: true, force: true });
  }
}
