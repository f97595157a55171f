// A repository whose package directory or image context is a committed symlink leading out of it:
// the release refuses to build from it, on a real git checkout made the way workers make them.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { buildPackage } from '../../activities/build-package';
import { validateRelease } from '../../activities/validate-release';
import { PATH_OUTSIDE_CHECKOUT, pathInCheckout } from '../../activities/lib/checkout-paths';
import { ensureCheckout, resolveTag } from '../../activities/lib/git-checkout';
import { planImage } from '../../activities/lib/image-plan';
import { repoRef } from '../../activities/lib/repo-ref';
import type { WorkerSettings } from '../../activities/lib/settings';
import { parseConfig } from '../../src/config/load';
import { buildSlice, imageSlice, validateSlice } from '../../src/config/plan';
import { git } from '../../src/dev/demo/example-repo';

const pyproject = (name: string) => `[project]\nname = "${name}"\nversion = "1.0.0"\n`;

/** A non-retryable failure naming the path tagship.toml gave and where it really leads. */
const leavesCheckout = (rel: string) => (err: unknown) => {
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, PATH_OUTSIDE_CHECKOUT);
  assert.equal(err.nonRetryable, true);
  assert.ok(err.message.includes(`"${rel}" leads outside the repository through a symlink`), err.message);
  return true;
};

describe('paths inside a checkout', () => {
  let root: string;
  let repoDir: string;
  let outside: string;
  let settings: WorkerSettings;
  let checkout: string;
  let commit: string;
  const tag = 'v1.0.0';

  const config = (extra: string) =>
    parseConfig(
      `[repository]\nowner = "o"\nname = "r"\nurl = "${repoDir}"\n[github_release]\nenabled = false\n` +
        '[[packages]]\nname = "good"\npath = "packages/good"\n[[packages]]\nname = "evil"\npath = "packages/evil"\n' +
        `[[variants]]\nname = "core"\npackages = ["good"]\n${extra}`,
      'tagship.toml',
    );

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-checkout-paths-'));
    repoDir = join(root, 'repo');
    // What a symlink could reach on a worker: a directory that looks like a package, with a secret beside it.
    outside = join(root, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'pyproject.toml'), pyproject('evil'));
    await writeFile(join(outside, 'secret.txt'), 'not from the repository\n');
    await writeFile(join(outside, 'Dockerfile'), 'FROM scratch\nCOPY secret.txt /\n');

    await mkdir(join(repoDir, 'packages', 'good'), { recursive: true });
    await writeFile(join(repoDir, 'packages', 'good', 'pyproject.toml'), pyproject('good'));
    await writeFile(join(repoDir, 'Dockerfile'), 'FROM scratch\n');
    // Absolute targets: they lead to the same place from the repository and from a worker's checkout.
    await symlink(outside, join(repoDir, 'packages', 'evil'));
    await symlink(outside, join(repoDir, 'docker'));
    await symlink(join(outside, 'Dockerfile'), join(repoDir, 'Dockerfile.outside'));
    await symlink('/nowhere/at/all', join(repoDir, 'dangling'));
    await symlink('packages/good', join(repoDir, 'good-link'));
    await git(repoDir, ['init', '--quiet', '--initial-branch=main']);
    await git(repoDir, ['add', '-A']);
    await git(repoDir, ['commit', '--quiet', '-m', 'symlinks in and out']);
    await git(repoDir, ['tag', tag]);

    settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts') };
    await mkdir(settings.artifactDir, { recursive: true });
    const repo = repoRef(config(''));
    commit = await resolveTag(settings.workDir, repo, tag);
    checkout = await ensureCheckout(settings.workDir, repo, tag, commit);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('resolves paths that stay in the checkout, through symlinks that stay in it too', async () => {
    const real = await realpath(checkout);
    assert.equal(pathInCheckout(checkout, 'packages/good', 'package good: path'), join(real, 'packages', 'good'));
    assert.equal(pathInCheckout(checkout, 'good-link', 'package good: path'), join(real, 'packages', 'good'));
    assert.equal(pathInCheckout(checkout, '.', 'images.context'), real);
    // A missing path stays a missing path inside the checkout: the caller reports it as not found.
    assert.equal(pathInCheckout(checkout, 'packages/none', 'package none: path'), join(real, 'packages', 'none'));
    // So does a dangling symlink: nothing can be read through it.
    assert.equal(pathInCheckout(checkout, 'dangling', 'package none: path'), join(real, 'dangling'));
  });

  it('refuses a package directory that is a symlink out of the checkout', () => {
    assert.throws(() => pathInCheckout(checkout, 'packages/evil', 'package evil: path'), leavesCheckout('packages/evil'));
    assert.throws(() => pathInCheckout(checkout, 'packages/evil/pyproject.toml', 'package evil: path'), leavesCheckout('packages/evil/pyproject.toml'));
  });

  it('the build step refuses it before building anything, and records no build', async () => {
    const cfg = config('');
    await assert.rejects(
      new MockActivityEnvironment().run(buildPackage, settings, {
        config: buildSlice(cfg, 'evil'),
        tag,
        commit,
        version: '1.0.0',
        package: 'evil',
        dryRun: true,
      }),
      (err: unknown) => leavesCheckout('packages/evil')(err) && (err as Error).message.startsWith('package evil: path "packages/evil"'),
    );
    assert.deepEqual(await readdir(settings.artifactDir), []);
  });

  it('validate refuses it first, before any other package is built', async () => {
    await assert.rejects(validateRelease(settings, { config: validateSlice(config('')), tag }), leavesCheckout('packages/evil'));
  });

  it('refuses an image context or Dockerfile that is a symlink out of the checkout', async () => {
    const plan = (extra: string) => {
      const cfg = config(extra);
      return planImage({ sourceDir: checkout, config: imageSlice(cfg, 'core'), version: '1.0.0', commit, variant: cfg.variants[0]! });
    };
    assert.equal(plan('').dockerfile, join(await realpath(checkout), 'Dockerfile'));
    assert.throws(() => plan('[images]\ncontext = "docker"\n'), leavesCheckout('docker'));
    assert.throws(() => plan('[images]\ndockerfile = "Dockerfile.outside"\n'), leavesCheckout('Dockerfile.outside'));
    assert.throws(() => plan('[images]\ndockerfile = "docker/Dockerfile"\n'), leavesCheckout('docker/Dockerfile'));
  });
});
