// Keeps uv.lock files consistent with the versions `tagship versions set` writes: uv records every
// workspace member's (and path dependency's) version in the lock, so a bump leaves it stale and
// `uv lock --check` fails until it is re-locked.
import { access } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { execa } from 'execa';
import type { TagshipConfig } from '../config/schema';

export const LOCK_FILE = 'uv.lock';

const TAIL_LINES = 15;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function inside(dir: string, root: string): boolean {
  const rel = relative(root, dir);
  return !isAbsolute(rel) && rel.split(sep)[0] !== '..';
}

/**
 * Absolute paths of the uv.lock files that record a configured package: one in its directory or
 * any parent up to the repository root. Every one on the way up counts, not just the nearest: an
 * outer project that depends on the package by path records its version too.
 */
export async function findLockFiles(repoDir: string, config: TagshipConfig): Promise<string[]> {
  const root = resolve(repoDir);
  const found: string[] = [];
  for (const pkg of config.packages) {
    let dir = resolve(root, pkg.path);
    // A package outside the repository (tagship.toml forbids it, but be safe) is looked at alone.
    const stop = inside(dir, root) ? root : dir;
    for (;;) {
      const lock = join(dir, LOCK_FILE);
      if (!found.includes(lock) && (await exists(lock))) found.push(lock);
      if (dir === stop) break;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return found;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** What a person runs to refresh `lockFile` by hand. */
export function refreshCommand(lockFile: string): string {
  return `uv lock --directory ${shellQuote(dirname(lockFile))}`;
}

/** `uv lock` could not re-lock: the lock file no longer matches the pyproject.toml files. */
export class StaleLockError extends Error {
  override name = 'StaleLockError';
  constructor(
    readonly lockFile: string,
    /** Why uv failed: its exit status and last lines of output, or why it did not run. */
    readonly reason: string,
    readonly output: string,
  ) {
    super(`${lockFile} is now stale: ${reason}${output ? `\n${output}` : ''}\nRefresh it with: ${refreshCommand(lockFile)}`);
  }

  get command(): string {
    return refreshCommand(this.lockFile);
  }
}

function lastLines(output: string, n = TAIL_LINES): string {
  const lines = output.replace(/\s+$/, '').split('\n');
  return lines
    .slice(-n)
    .map((l) => `    ${l}`)
    .join('\n');
}

/**
 * Re-locks the project or workspace whose lock is `lockFile` with `uv lock` (it resolves and
 * writes the lock only: no sync, no virtual environment). Throws StaleLockError when uv fails.
 */
export async function relock(uv: string, lockFile: string): Promise<void> {
  const dir = dirname(lockFile);
  const result = await execa(uv, ['lock'], {
    cwd: dir,
    stdin: 'ignore',
    all: true,
    reject: false,
    env: {
      NO_COLOR: '1',
      // Each of these, set for other uv commands, would defeat the re-lock: UV_LOCKED makes it a
      // check that fails, UV_FROZEN a validity check that silently writes nothing, and
      // UV_PROJECT/UV_WORKING_DIR point it at another project.
      UV_LOCKED: undefined,
      UV_FROZEN: undefined,
      UV_PROJECT: undefined,
      UV_WORKING_DIR: undefined,
    },
  });
  if (!result.failed) return;
  const output = typeof result.all === 'string' ? result.all : '';
  const colon = output.trim() ? ':' : '';
  const reason =
    result.exitCode !== undefined
      ? `\`uv lock\` in ${dir} failed (exit code ${result.exitCode})${colon}`
      : result.signal
        ? `\`uv lock\` in ${dir} was killed by ${result.signal}${colon}`
        : `\`uv lock\` could not run in ${dir}: ${result.originalMessage || result.shortMessage}`;
  throw new StaleLockError(lockFile, reason, output.trim() ? lastLines(output) : '');
}
