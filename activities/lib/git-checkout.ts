// Checkouts of a tag's commit, shared by every activity of a release on one worker. A bare mirror
// per repository keeps fetches incremental; each commit gets its own read-only tree, created in a
// temporary directory and renamed into place so concurrent activities never see a half checkout.
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CancelledFailure } from '@temporalio/common';
import { COMMIT_RE } from '../../src/contract/git-refs';
import { tools } from './tools';
import { runChild } from './child-process';
import { badTagMessage, versionFromTag } from '../../src/contract/version';
import { failure } from '../../src/contract/failures';

/** A full commit id (SHA-1, or SHA-256 in repositories that use it). */

export interface RepoRef {
  readonly owner: string;
  readonly name: string;
  /** git URL or local path the worker fetches from. */
  readonly url: string;
}

/** What git takes from the worker's environment besides the allow-list: how it reaches remotes over ssh and https. */
const GIT_PASS = [
  'SSH_AUTH_SOCK',
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_SSL_CAINFO',
  'GIT_SSL_CAPATH',
  'XDG_CONFIG_HOME',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_NOSYSTEM',
];

export class GitError extends Error {
  override name = 'GitError';
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/**
 * Runs git without a terminal or credential prompts and returns its trimmed stdout; a non-zero exit
 * is a GitError carrying git's stderr. git keeps the worker's HOME: its credential helpers and
 * known hosts are how it authenticates (repository.url never carries credentials).
 */
export async function git(args: readonly string[], cwd?: string): Promise<string> {
  const res = await runChild(tools.git(), args, {
    home: 'worker',
    pass: GIT_PASS,
    env: {
      // Never ask for credentials on a terminal that is not there.
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: 'true',
      // No ext:: or fd:: transports (they run commands), nor plain http or git://.
      GIT_ALLOW_PROTOCOL: 'file:https:ssh',
    },
    ...(cwd ? { cwd } : {}),
  });
  if (res.exitCode !== 0) {
    const command = args.find((a) => /^[a-z][a-z-]*$/.test(a)) ?? '';
    throw new GitError(`git ${command} failed (exit ${res.exitCode ?? '?'}): ${res.stderr.trim().split('\n').slice(-3).join(' ')}`, res.stderr);
  }
  return res.stdout.trim();
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function mirrorDir(workDir: string, repo: RepoRef): string {
  return join(workDir, 'git', repo.owner, `${repo.name}.git`);
}

/** The worker's bare mirror of `repo` (created empty on first use); fetches add to it. */
export async function ensureMirror(workDir: string, repo: RepoRef): Promise<string> {
  const dir = mirrorDir(workDir, repo);
  if (!(await exists(join(dir, 'HEAD')))) {
    await mkdir(dir, { recursive: true });
    await git(['init', '--quiet', '--bare', dir]);
  }
  return dir;
}

function assertTag(tag: string): void {
  if (versionFromTag(tag) === undefined) {
    throw failure('InvalidTag', badTagMessage(tag));
  }
}

/** Fetches `tag` from the repository and returns the commit it points at. */
export async function resolveTag(workDir: string, repo: RepoRef, tag: string): Promise<string> {
  assertTag(tag);
  const mirror = await ensureMirror(workDir, repo);
  try {
    await git(['--git-dir', mirror, 'fetch', '--quiet', '--force', '--no-tags', '--', repo.url, `+refs/tags/${tag}:refs/tags/${tag}`]);
  } catch (err) {
    if (err instanceof CancelledFailure) throw err;
    const stderr = (err as { stderr?: string }).stderr ?? '';
    if (/couldn't find remote ref|not found in upstream/i.test(stderr)) {
      throw failure('TagNotFound', `tag ${tag} does not exist in ${repo.url}`);
    }
    if (/does not appear to be a git repository|repository .* not found/i.test(stderr)) {
      throw failure('RepositoryNotFound', `${repo.url} is not a git repository: ${stderr.trim().split('\n')[0]}`);
    }
    throw new Error(`git fetch of ${tag} from ${repo.url} failed: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  return git(['--git-dir', mirror, 'rev-parse', '--verify', `refs/tags/${tag}^{commit}`]);
}

/**
 * A directory holding the repository at `commit`. Another worker may run this with an empty
 * work dir, so it fetches the tag again when the commit is not there yet.
 */
export async function ensureCheckout(workDir: string, repo: RepoRef, tag: string, commit: string): Promise<string> {
  if (!COMMIT_RE.test(commit)) throw failure('InvalidCommit', `not a commit id: ${commit}`);
  const target = join(workDir, 'src', repo.owner, repo.name, commit);
  if (await exists(join(target, '.git'))) return withTag(target, tag, commit);

  const mirror = await ensureMirror(workDir, repo);
  const have = await git(['--git-dir', mirror, 'cat-file', '-t', commit]).catch(() => '');
  if (have !== 'commit') {
    const now = await resolveTag(workDir, repo, tag);
    if (now !== commit) {
      // The tag was moved after validation: releasing the new commit would publish unvalidated code.
      throw failure('TagMoved', `tag ${tag} now points at ${now}, but this release validated ${commit}; start a new release`);
    }
  }

  const tmp = `${target}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true });
  try {
    // Only the release's own tag goes into the checkout: `git describe` (versioningit, hatch-vcs
    // without a pretend version) prefers annotated tags, and another tag of the commit must not win.
    await git(['clone', '--quiet', '--shared', '--no-checkout', '--no-tags', '--', mirror, tmp]);
    await git(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit], tmp);
    await git(['tag', '--force', '--no-sign', tag, commit], tmp);
    await rename(tmp, target).catch(async (err: NodeJS.ErrnoException) => {
      // Another activity finished the same checkout first; theirs is identical.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return target;
}

/**
 * Build backends that take the version from git (setuptools-scm, hatch-vcs, versioningit) run
 * `git describe` in the checkout: the release's tag must be there, pointing at the commit. A
 * checkout made for another tag of the same commit gets this one added.
 */
async function withTag(checkout: string, tag: string, commit: string): Promise<string> {
  const at = await git(['rev-parse', '--quiet', '--verify', `refs/tags/${tag}^{commit}`], checkout).catch(() => '');
  if (at === commit) return checkout;
  await git(['tag', '--force', '--no-sign', tag, commit], checkout).catch(async (err: unknown) => {
    // A concurrent activity added it first: fine when it now points at the commit.
    if ((await git(['rev-parse', '--quiet', '--verify', `refs/tags/${tag}^{commit}`], checkout).catch(() => '')) !== commit) throw err;
  });
  return checkout;
}

/** The committer time of `commit` (seconds), used as SOURCE_DATE_EPOCH for reproducible builds. */
export async function commitTime(checkout: string): Promise<number> {
  return Number(await git(['log', '-1', '--format=%ct', 'HEAD'], checkout));
}
