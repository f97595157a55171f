// Makes a real git repository from the example monorepo shipped in examples/open-ticket-ai,
// sets every package to `version` and tags it, the way a maintainer would before pushing the tag.
import { cp, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { loadConfig, CONFIG_FILE } from '../../config/load';
import { tools } from '../../../activities/lib/tools';
import { setVersions } from '../../../activities/lib/versions';

export const EXAMPLE_DIR = fileURLToPath(new URL('../../../examples/open-ticket-ai', import.meta.url));

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'tagship demo',
  GIT_AUTHOR_EMAIL: 'demo@tagship.invalid',
  GIT_COMMITTER_NAME: 'tagship demo',
  GIT_COMMITTER_EMAIL: 'demo@tagship.invalid',
};

export async function git(dir: string, args: readonly string[]): Promise<string> {
  return (await execa(tools.git(), [...args], { cwd: dir, env: GIT_ENV, stdin: 'ignore' })).stdout.trim();
}

/** Copies the example into `dir`, commits it, then bumps to `version` and tags `v<version>`. */
export async function createExampleRepo(dir: string, version: string): Promise<{ dir: string; tag: string; commit: string }> {
  await mkdir(dir, { recursive: true });
  await cp(EXAMPLE_DIR, dir, { recursive: true });
  await git(dir, ['init', '--quiet', '--initial-branch=main']);
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '--quiet', '-m', 'Initial import of the example monorepo']);
  return tagVersion(dir, version);
}

/** What `python scripts/set_version.py X` + commit + `git tag vX` do in the seed's process. */
export async function tagVersion(dir: string, version: string): Promise<{ dir: string; tag: string; commit: string }> {
  const config = await loadConfig(`${dir}/${CONFIG_FILE}`);
  await setVersions({ repoDir: dir, config, version });
  await git(dir, ['commit', '--quiet', '--allow-empty', '-am', `chore: bump version to ${version}`]);
  const tag = `v${version}`;
  await git(dir, ['tag', tag]);
  return { dir, tag, commit: await git(dir, ['rev-parse', 'HEAD']) };
}
