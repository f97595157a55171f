// The seed's manual trigger ("uses the version from pyproject.toml files"): release a branch or
// commit that has no tag yet. The version is read at that commit, the packages must agree on it,
// and tag v<version> is created there and pushed, so the release that follows is an ordinary tag
// release (the same workflow id a tag push would give; the webhook of the new tag joins it).
import { invalidVersionMessage, isValidVersion } from '../src/contract/version';
import { checkVersionsWith } from './lib/versions';
import type { WorkerSettings } from './lib/settings';
import { COMMIT_RE, invalidRef } from '../src/contract/git-refs';
import { ensureMirror, git, type RepoRef } from './lib/git-checkout';
import { repoRef } from './lib/repo-ref';
import type { TagConfig, TagReleaseInput, TaggedRelease } from '../src/contract/activities';
import { fail } from '../src/contract/failures';

/** Fetches every branch into the mirror and returns the commit `ref` names there. */
async function resolveRef(mirror: string, repo: RepoRef, ref: string): Promise<string> {
  try {
    // --prune: a branch deleted upstream must not resolve to its old head.
    await git(['--git-dir', mirror, 'fetch', '--quiet', '--force', '--prune', '--no-tags', '--', repo.url, '+refs/heads/*:refs/tagship/heads/*']);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    if (/does not appear to be a git repository|repository .* not found/i.test(stderr))
      fail('RepositoryNotFound', `${repo.url} is not a git repository: ${stderr.trim().split('\n')[0]}`);
    throw new Error(`git fetch of the branches of ${repo.url} failed: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  if (COMMIT_RE.test(ref)) {
    // The mirror also holds commits of tags and of force-pushed branches: only a branch's history counts.
    const branches = await git(['--git-dir', mirror, 'for-each-ref', '--contains', ref, '--format=%(refname)', 'refs/tagship/heads/']).catch(() => '');
    if (!branches) fail('RefNotFound', `commit ${ref} is not on any branch of ${repo.url}`);
    return ref;
  }
  const branch = ref.replace(/^refs\/heads\//, '');
  const commit = await git(['--git-dir', mirror, 'rev-parse', '--quiet', '--verify', `refs/tagship/heads/${branch}^{commit}`]).catch(() => '');
  if (!commit) fail('RefNotFound', `branch ${branch} does not exist in ${repo.url}`);
  return commit;
}

/** The commit tag `tag` points at in the repository (peeled), or undefined when there is no such tag. */
async function remoteTagCommit(repo: RepoRef, tag: string): Promise<string | undefined> {
  const out = await git(['ls-remote', '--tags', '--', repo.url, `refs/tags/${tag}`, `refs/tags/${tag}^{}`]);
  const lines = out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t') as [string, string]);
  return (lines.find(([, name]) => name.endsWith('^{}')) ?? lines[0])?.[0];
}

async function versionAt(mirror: string, config: TagConfig, commit: string, ref: string, requested: string | undefined): Promise<string> {
  const read = async (file: string) => {
    try {
      return await git(['--git-dir', mirror, 'show', `${commit}:${file}`]);
    } catch {
      throw Object.assign(new Error(`${file} not found`), { code: 'ENOENT' });
    }
  };
  const check = await checkVersionsWith(read, { config, ...(requested ? { tag: `v${requested}` } : {}) });
  if (!check.ok) fail('VersionMismatch', `${ref} (${commit.slice(0, 12)}) cannot be released:\n${check.errors.join('\n')}`);
  if (check.version === undefined) {
    fail(
      'VersionMissing',
      `no package at ${ref} has a static version (theirs come from the tag or the build), so there is no version to tag: give the version to release (--version X.Y.Z, or "version" in the request)`,
    );
  }
  return check.version;
}

export async function tagRelease(settings: WorkerSettings, input: TagReleaseInput): Promise<TaggedRelease> {
  const refProblem = invalidRef(input.ref);
  if (refProblem) fail('InvalidRef', refProblem);
  if (input.version !== undefined && !isValidVersion(input.version)) fail('InvalidVersion', invalidVersionMessage(input.version));
  const repo = repoRef(input.config);
  const mirror = await ensureMirror(settings.workDir, repo);
  const commit = await resolveRef(mirror, repo, input.ref);
  if (input.expectedCommit !== undefined && commit !== input.expectedCommit) {
    fail(
      'RefMoved',
      `${input.ref} is now at ${commit.slice(0, 12)}, but the job that asked ran at ${input.expectedCommit.slice(0, 12)}; re-run it on the new commit`,
    );
  }
  const version = await versionAt(mirror, input.config, commit, input.ref, input.version);
  const tag = `v${version}`;

  const refuseExisting = (at: string) =>
    fail(
      'TagExists',
      `tag ${tag} already exists at ${at.slice(0, 12)}, not at ${commit.slice(0, 12)} (${input.ref}): ${version} was released from another commit; set a new version at ${input.ref}`,
    );
  const existing = await remoteTagCommit(repo, tag);
  if (existing === commit) return { tag, version, commit, created: false };
  if (existing !== undefined) refuseExisting(existing);
  try {
    // A lightweight tag: no identity or signing key is needed on the worker, and every VCS
    // versioning backend reads it like an annotated one.
    await git(['--git-dir', mirror, 'push', '--quiet', '--', repo.url, `${commit}:refs/tags/${tag}`]);
  } catch (err) {
    // Someone pushed the same tag meanwhile: fine if it is the same commit.
    const now = await remoteTagCommit(repo, tag);
    if (now === commit) return { tag, version, commit, created: false };
    if (now !== undefined) refuseExisting(now);
    throw new Error(`pushing tag ${tag} to ${repo.url} failed: ${((err as { stderr?: string }).stderr ?? String(err)).trim().split('\n').slice(-3).join(' ')}`);
  }
  await git(['--git-dir', mirror, 'update-ref', `refs/tags/${tag}`, commit]);
  return { tag, version, commit, created: true };
}
