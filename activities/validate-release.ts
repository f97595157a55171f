// Validate a tag at its commit: the tag has the v*.*.* shape, every configured pyproject.toml has
// one identical version, and the tag names it. Failures use the seed's words and never retry.
import type { ValidatedRelease } from '../src/contract/release';
import { badTagMessage, versionFromTag } from '../src/contract/version';
import { checkVersions } from './lib/versions';
import type { WorkerSettings } from './lib/settings';
import { pathInCheckout } from './lib/checkout-paths';
import { ensureCheckout, resolveTag } from './lib/git-checkout';
import { repoRef } from './lib/repo-ref';
import type { ValidateInput } from '../src/contract/activities';
import { failure } from '../src/contract/failures';

export async function validateRelease(settings: WorkerSettings, input: ValidateInput): Promise<ValidatedRelease> {
  const version = versionFromTag(input.tag);
  if (version === undefined) {
    throw failure('InvalidTag', badTagMessage(input.tag));
  }
  // Checked before anything irreversible: otherwise a release would publish everything and then
  // wait for an operator at its very end.
  if (input.config.github_release?.enabled && !input.dryRun && !settings.githubToken) {
    throw failure(
      'GitHubTokenMissing',
      'the GitHub Release is on ([github_release] enabled, the default for GitHub repositories), but this worker has no TAGSHIP_GITHUB_TOKEN; set it (contents: write), or set [github_release] enabled = false',
    );
  }
  const repo = repoRef(input.config);
  const commit = await resolveTag(settings.workDir, repo, input.tag);
  const checkout = await ensureCheckout(settings.workDir, repo, input.tag, commit);
  // Before any pyproject.toml is read: a package directory linked out of the repository fails here,
  // not after other packages were built.
  for (const pkg of input.config.packages) pathInCheckout(checkout, pkg.path, `package ${pkg.name}: path`);
  const result = await checkVersions({ repoDir: checkout, config: input.config, tag: input.tag });
  if (!result.ok) {
    throw failure('VersionMismatch', result.errors.join('\n'));
  }
  // A dynamic version is the tag's until the build proves it (build-package checks the built metadata).
  return { version, commit, packages: result.packages.map((p) => ({ name: p.name, version: p.version ?? version })) };
}
