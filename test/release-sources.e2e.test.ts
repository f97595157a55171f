// Releases of real, seed-shaped repositories other than the example, on the embedded stack (real
// Temporal, git, uv, pypiserver, buildah, docker-registry) and a double of GitHub's REST API:
// versions taken from git tags (setuptools-scm), setuptools sdists that are not reproducible
// across an abort and restart, a release from a branch without a tag, the GitHub Release, and a
// monorepo of five packages shipped as one image with un-suffixed tags. Every test makes its own
// repository (with its own package names, the index being shared) and releases what it needs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { buildPackage } from '../activities/build-package';
import { listProjectFiles } from '../activities/lib/simple-index';
import { validateRelease } from '../activities/validate-release';
import { parseConfig } from '../src/config/load';
import type { TagshipConfig } from '../src/config/schema';
import { git } from '../src/dev/demo/example-repo';
import { connectClient, type TemporalTarget } from '../src/client/connect';
import { startRelease, TagRefError, tagFromRef } from '../src/client/start';
import type { BuiltPackage, ReleaseStatus, ReleaseSummary } from '../src/contract/release';
import { configForStack, startEmbeddedStack, workerSettingsForStack, type EmbeddedStack } from '../src/dev/stack/embedded';
import { checkVersions } from '../activities/lib/versions';
import type { WorkerSettings } from '../activities/lib/settings';
import { createWorker } from '../worker/run';
import { abortUpdate, statusQuery } from '../src/contract/messages';
import { eventually } from './support/eventually';
import { startGitHubApi, type GitHubApi } from './support/github-api';

const GH_TOKEN = 'ghs_release-sources-test-token';

type Files = Readonly<Record<string, string>>;

async function writeRepoFiles(dir: string, files: Files): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

async function commit(dir: string, files: Files, message: string): Promise<string> {
  await writeRepoFiles(dir, files);
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '--quiet', '--allow-empty', '-m', message]);
  return git(dir, ['rev-parse', 'HEAD']);
}

async function initRepo(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await git(dir, ['init', '--quiet', '--initial-branch=main']);
}

/** A setuptools package whose version setuptools-scm takes from the git tag (the package sits two levels below the repository root). */
function scmPackage(name: string, module: string, greeting: string): Files {
  return {
    [`packages/${name}/pyproject.toml`]: [
      '[build-system]',
      'requires = ["setuptools>=68", "setuptools-scm>=8"]',
      'build-backend = "setuptools.build_meta"',
      '',
      '[project]',
      `name = "${name}"`,
      'dynamic = ["version"]',
      `description = "${name}: version from the git tag"`,
      'requires-python = ">=3.9"',
      '',
      '[tool.setuptools]',
      `packages = ["${module}"]`,
      '',
      '[tool.setuptools_scm]',
      'root = "../.."',
      '',
    ].join('\n'),
    [`packages/${name}/${module}/__init__.py`]: `GREETING = "${greeting}"\n`,
  };
}

/** A plain setuptools package with a static version (its sdists carry clock times). */
function setuptoolsPackage(name: string, module: string, version: string, versionLine = `version = "${version}"`, extra = ''): Files {
  return {
    [`packages/${name}/pyproject.toml`]: [
      '[build-system]',
      'requires = ["setuptools>=68"]',
      'build-backend = "setuptools.build_meta"',
      '',
      '[project]',
      `name = "${name}"`,
      versionLine,
      `description = "${name}"`,
      'requires-python = ">=3.9"',
      '',
      '[tool.setuptools]',
      `packages = ["${module}"]`,
      extra,
    ].join('\n'),
    [`packages/${name}/${module}/__init__.py`]: `__version__ = "${version}"\n`,
  };
}

function hatchPackage(name: string, module: string, version: string): Files {
  return {
    [`packages/${name}/pyproject.toml`]: `[project]\nname = "${name}"\nversion = "${version}"\nrequires-python = ">=3.9"\n\n[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n[tool.hatch.build.targets.wheel]\npackages = ["src/${module}"]\n`,
    [`packages/${name}/src/${module}/__init__.py`]: `NAME = "${name}"\n`,
  };
}

describe('releases of seed-shaped repositories', { timeout: 15 * 60_000 }, () => {
  let root: string;
  let stack: EmbeddedStack;
  let github: GitHubApi;
  let settings: WorkerSettings & { githubToken: string };
  let connection: NativeConnection | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let client: Client;
  let target: TemporalTarget;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-sources-'));
    stack = await startEmbeddedStack({ dataDir: join(root, 'stack'), headless: true });
    github = await startGitHubApi({
      token: GH_TOKEN,
      repositories: ['acme/scm-mono', 'acme/scm-adopt', 'acme/scm-branch', 'acme/scm-tokenless', 'acme/one-image'],
    });
    // The worker reads its settings when an activity runs: a test may change the token it holds.
    settings = { ...workerSettingsForStack(stack), githubToken: GH_TOKEN };
    const taskQueue = `sources-${Math.random().toString(36).slice(2)}`;
    target = { address: stack.temporal.address, namespace: stack.temporal.namespace, taskQueue, uiUrl: stack.temporal.uiUrl, codec: stack.codec };
    connection = await NativeConnection.connect({ address: stack.temporal.address });
    worker = await createWorker(connection, { namespace: target.namespace, taskQueue, settings });
    running = worker.run();
    client = await connectClient(target);
  });

  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await connection?.close();
    await client?.connection.close();
    await github?.close();
    await stack?.stop();
    await rm(root, { recursive: true, force: true });
  });

  function repoConfig(toml: string, repoDir: string): TagshipConfig {
    const parsed = parseConfig(toml, 'tagship.toml');
    return { ...configForStack(parsed, stack, repoDir), github_release: { enabled: parsed.github_release.enabled, api_url: github.url } };
  }

  async function indexFiles(config: TagshipConfig, project: string): Promise<Map<string, string>> {
    return new Map((await listProjectFiles(config.index.simple_url, project)).map((f) => [f.filename, f.sha256 ?? '']));
  }

  /**
   * A setuptools-scm monorepo acme/<name> of its own: <prefix>-core takes its version from the git
   * tag, <prefix>-cli has a static one; tagged v0.9.0, then v1.0.0 two commits later. Packages are
   * named per test, so no test finds another one's files on the shared index.
   */
  async function scmMonorepo(name: string, prefix: string) {
    const dir = join(root, name);
    const core = `${prefix}-core`;
    const cli = `${prefix}-cli`;
    const cliModule = `${prefix}_cli`;
    await initRepo(dir);
    await commit(dir, { ...scmPackage(core, `${prefix}_core`, 'hello'), ...setuptoolsPackage(cli, cliModule, '0.9.0') }, 'Initial import');
    await git(dir, ['tag', 'v0.9.0']);
    await commit(dir, scmPackage(core, `${prefix}_core`, 'hello, world'), 'feat(core): greet the whole world');
    await commit(dir, setuptoolsPackage(cli, cliModule, '1.0.0'), 'chore: bump version to 1.0.0');
    await git(dir, ['tag', 'v1.0.0']);
    const config = repoConfig(
      `variants = []\n[repository]\nowner = "acme"\nname = "${name}"\n[[packages]]\nname = "${core}"\npath = "packages/${core}"\n[[packages]]\nname = "${cli}"\npath = "packages/${cli}"\n[github_release]\nenabled = true\n`,
      dir,
    );
    return { dir, config, core, cli, cliModule };
  }

  it('a setuptools-scm monorepo is released from its tag; an abort and restart uploads nothing new; the GitHub Release gets its notes and SHA256SUMS once', async (t) => {
    const { dir, config: scmConfig } = await scmMonorepo('scm-mono', 'acme');
    t.after(() => {
      settings.githubToken = GH_TOKEN;
      github.failUploads = 0;
    });
    const check = await checkVersions({ repoDir: dir, config: scmConfig, tag: 'v1.0.0' });
    assert.deepEqual(check.errors, []);
    assert.deepEqual(check.packages[0]?.dynamic, { fromTag: true, backend: 'setuptools-scm' });

    // First run: everything is uploaded, then the GitHub Release is refused (bad token) and an operator aborts.
    const first = await startRelease(client, target, scmConfig, 'v1.0.0');
    // Preflight proves the worker's token; then it is rotated away mid-release and GitHub refuses it.
    await eventually(
      'preflight to pass with the token GitHub still accepts',
      () => first.handle.query(statusQuery),
      (s) => s.steps.some((x) => x.step === 'preflight' && x.state === 'succeeded'),
      { timeoutMs: 120_000, intervalMs: 100, show: (s) => s.steps.map((x) => `${x.step}=${x.state}`).join(', ') },
    );
    settings.githubToken = 'ghs_revoked';
    const waiting = await eventually(
      'the GitHub Release step waiting for an operator',
      () => first.handle.query(statusQuery),
      (s) => s.steps.some((x) => x.step === 'github-release' && x.state === 'waiting-for-operator'),
      { timeoutMs: 180_000, show: (s) => `${s.state}: ${s.steps.map((x) => `${x.step}=${x.state}`).join(', ')}` },
    );
    assert.match(waiting.steps.find((s) => s.step === 'github-release')?.note ?? '', /GitHub|token/i);
    assert.ok(!JSON.stringify(waiting).includes('ghs_revoked'), 'the token never reaches the status');
    const uploaded = new Map([...(await indexFiles(scmConfig, 'acme-core')), ...(await indexFiles(scmConfig, 'acme-cli'))]);
    assert.deepEqual([...uploaded.keys()].sort(), [
      'acme_cli-1.0.0-py3-none-any.whl',
      'acme_cli-1.0.0.tar.gz',
      'acme_core-1.0.0-py3-none-any.whl',
      'acme_core-1.0.0.tar.gz',
    ]);
    await first.handle.executeUpdate(abortUpdate, { args: ['GitHub token rotated; restarting'] });
    await assert.rejects(first.handle.result(), WorkflowFailedError);

    // The README's recovery: fix the cause, start the same tag again.
    settings.githubToken = GH_TOKEN;
    github.failUploads = 1;
    const second = await startRelease(client, target, scmConfig, 'v1.0.0');
    assert.equal(second.started, true);
    const summary = (await second.handle.result()) as ReleaseSummary;
    const status: ReleaseStatus = await second.handle.query(statusQuery);
    for (const p of ['acme-core', 'acme-cli']) {
      assert.match(status.steps.find((s) => s.step === `build:${p}`)?.note ?? '', /reused the files an earlier run of this commit built/);
    }
    const after = new Map([...(await indexFiles(scmConfig, 'acme-core')), ...(await indexFiles(scmConfig, 'acme-cli'))]);
    assert.deepEqual(after, uploaded, "every file on the index is the first run's, and nothing was added");
    for (const p of summary.packages) {
      assert.deepEqual(p.uploaded, [], `${p.package}: nothing uploaded by the restart`);
      for (const f of p.files) assert.equal(f.sha256, uploaded.get(f.filename), `${f.filename} is the first run's bytes`);
    }

    const releases = github.releases.filter((r) => r.repository === 'acme/scm-mono');
    assert.equal(releases.length, 1);
    assert.equal(github.requests.filter((r) => r.method === 'POST' && r.path === '/repos/acme/scm-mono/releases').length, 1, 'created once');
    const release = releases[0]!;
    assert.equal(release.tag_name, 'v1.0.0');
    assert.equal(release.prerelease, false);
    assert.match(release.body ?? '', /greet the whole world/);
    assert.doesNotMatch(release.body ?? '', /Initial import/, 'notes start after the previous release tag v0.9.0');
    const sums = release.assets.find((a) => a.name === 'SHA256SUMS');
    assert.ok(sums, 'SHA256SUMS uploaded');
    assert.deepEqual(sums.bytes.toString('utf8').trim().split('\n').sort(), [...uploaded].map(([file, sha]) => `${sha}  ${file}`).sort());
    const sumUploads = github.requests.filter(
      (r) => r.method === 'POST' && r.path.endsWith('/assets') && r.query.includes('name=SHA256SUMS') && r.status === 201,
    );
    assert.equal(sumUploads.length, 1, 'the asset is uploaded once, although the first upload attempt failed');
    assert.deepEqual(summary.githubRelease?.id, release.id);
  });

  it("when the recorded build is gone, a rebuild adopts the index's identical files; one whose contents differ is refused, naming the file that differs", async () => {
    const { dir, config: scmConfig, cli, cliModule } = await scmMonorepo('scm-adopt', 'adopt');
    // v1.0.0 released: its files are on the index and its builds recorded.
    await (await startRelease(client, target, scmConfig, 'v1.0.0')).handle.result();
    const tagged = await git(dir, ['rev-parse', 'v1.0.0^{commit}']);
    const onIndex = await indexFiles(scmConfig, cli);
    await rm(join(settings.artifactDir, 'builds'), { recursive: true, force: true });
    const env = new MockActivityEnvironment();
    const rebuilt: BuiltPackage = await env.run(buildPackage, settings, { config: scmConfig, tag: 'v1.0.0', commit: tagged, version: '1.0.0', package: cli });
    assert.ok(rebuilt.adopted?.includes(`${cliModule}-1.0.0.tar.gz`), `the setuptools sdist differs in bytes only and is adopted: ${inspect(rebuilt)}`);
    for (const f of rebuilt.files) assert.equal(f.sha256, onIndex.get(f.filename), `${f.filename} is the index's bytes`);

    // Same version, other sources: the index's file can never be replaced and must not be shadowed.
    const changed = await commit(
      dir,
      { [`packages/${cli}/${cliModule}/__init__.py`]: '__version__ = "1.0.0"\nPATCHED = True\n' },
      'fix(cli): patched after the release',
    );
    await git(dir, ['tag', 'v1.0.0.post99']);
    const err = await env.run(buildPackage, settings, { config: scmConfig, tag: 'v1.0.0.post99', commit: changed, version: '1.0.0', package: cli }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, `refused: ${inspect(err)}`);
    assert.equal(err.type, 'IndexFileConflict');
    assert.match(err.message, new RegExp(`${cliModule}-1\\.0\\.0\\.tar\\.gz: content of ${cliModule}-1\\.0\\.0/${cliModule}/__init__\\.py`));
    assert.match(err.message, /Release a new version/);
    assert.deepEqual(await indexFiles(scmConfig, cli), onIndex);
  });

  it('a release from a branch tags the version found there, pushes the tag and releases it; a later tag push joins it; the version tagged at another commit is refused', async () => {
    const { dir, config: scmConfig, core, cli, cliModule } = await scmMonorepo('scm-branch', 'branch');
    const head = await commit(dir, setuptoolsPackage(cli, cliModule, '1.1.0'), 'feat(cli): a new command');
    const tagged = await tagFromRef(client, target, scmConfig, 'main');
    assert.deepEqual(tagged, { tag: 'v1.1.0', version: '1.1.0', commit: head, created: true });
    assert.equal(await git(dir, ['rev-parse', 'v1.1.0^{commit}']), head, 'the tag is pushed to the repository');
    assert.equal((await tagFromRef(client, target, scmConfig, 'main')).created, false, 'asking again is harmless');

    const started = await startRelease(client, target, scmConfig, tagged.tag);
    const webhook = await startRelease(client, target, scmConfig, 'v1.1.0');
    assert.equal(webhook.workflowId, started.workflowId);
    assert.equal(webhook.started, false, "the tag's own webhook joins the running release");
    await started.handle.result();
    // branch-core's version comes from the tag tagship created.
    assert.deepEqual([...(await indexFiles(scmConfig, core)).keys()].filter((f) => f.includes('1.1.0')).sort(), [
      'branch_core-1.1.0-py3-none-any.whl',
      'branch_core-1.1.0.tar.gz',
    ]);

    await commit(dir, { 'README.md': 'docs\n' }, 'docs: a readme');
    await assert.rejects(tagFromRef(client, target, scmConfig, 'main'), (e: unknown) => {
      assert.ok(e instanceof TagRefError);
      assert.equal(e.type, 'TagExists');
      assert.match(e.message, new RegExp(`tag v1\\.1\\.0 already exists at ${head.slice(0, 12)}`));
      return true;
    });
    await assert.rejects(tagFromRef(client, target, scmConfig, 'no-such-branch'), /branch no-such-branch does not exist/);
    await assert.rejects(tagFromRef(client, target, scmConfig, '--upload-pack=evil'), /is not a branch name or a full commit id/);
  });

  it('a worker without TAGSHIP_GITHUB_TOKEN refuses a release with the GitHub Release on at validate, before anything is published', async () => {
    const { config: scmConfig } = await scmMonorepo('scm-tokenless', 'tokenless');
    const { githubToken: _none, ...tokenless } = settings;
    const err = await new MockActivityEnvironment().run(validateRelease, tokenless, { config: scmConfig, tag: 'v1.0.0' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure && err.type === 'GitHubTokenMissing', inspect(err));
    assert.match(err.message, /no TAGSHIP_GITHUB_TOKEN; set it \(contents: write\), or set \[github_release\] enabled = false/);
  });

  it("built metadata whose version is not the tag's stops the release with the seed's words and the package", async () => {
    const dir = join(root, 'attr-mono');
    await initRepo(dir);
    // setuptools reads the version from __version__, which nobody bumped.
    const pkg = setuptoolsPackage(
      'acme-attr',
      'acme_attr',
      '0.9.0',
      'dynamic = ["version"]',
      '\n[tool.setuptools.dynamic]\nversion = { attr = "acme_attr.__version__" }\n',
    );
    await commit(dir, pkg, 'Initial import');
    await git(dir, ['tag', 'v1.0.0']);
    const config = repoConfig(
      'variants = []\n[repository]\nowner = "acme"\nname = "attr-mono"\n[[packages]]\nname = "acme-attr"\npath = "packages/acme-attr"\n[github_release]\nenabled = false\n',
      dir,
    );
    const started = await startRelease(client, target, config, 'v1.0.0');
    await assert.rejects(started.handle.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      const message = String((e.cause?.cause as Error | undefined)?.message ?? e.cause?.message);
      assert.match(message, /ERROR: Tag version \(1\.0\.0\) doesn't match package version \(0\.9\.0\)/);
      assert.match(message, /package acme-attr \(its version is computed by setuptools \(attr\)\)/);
      return true;
    });
    assert.deepEqual([...(await indexFiles(config, 'acme-attr')).keys()], [], 'nothing uploaded');
  });

  it('five packages ship in one image with un-suffixed tags, and the GitHub Release lists the image by digest', async () => {
    const dir = join(root, 'one-image');
    await initRepo(dir);
    const names = ['five-a', 'five-b', 'five-c', 'five-d', 'five-e'];
    const modules = names.map((n) => n.replace('-', '_'));
    const files: Record<string, string> = {
      Dockerfile: [
        'ARG BASE_IMAGE',
        'FROM ${BASE_IMAGE}',
        'SHELL ["/bin/bash", "-eo", "pipefail", "-c"]',
        'ARG VERSION',
        'ARG PACKAGES',
        'ARG INDEX_URL',
        'ENV UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy PATH=/app/.venv/bin:$PATH',
        'WORKDIR /app',
        'RUN uv init --bare --no-workspace --name five --python python3 . && uv add --default-index "$INDEX_URL" $(for p in $PACKAGES; do echo "$p==$VERSION"; done)',
        '',
      ].join('\n'),
    };
    names.forEach((n, i) => Object.assign(files, hatchPackage(n, modules[i]!, '2.0.0')));
    await commit(dir, files, 'feat: five packages, one image');
    await git(dir, ['tag', 'v2.0.0']);
    const toml = [
      '[repository]\nowner = "acme"\nname = "one-image"',
      ...names.map((n) => `[[packages]]\nname = "${n}"\npath = "packages/${n}"`),
      `[[variants]]\nname = "app"\npackages = [${names.map((n) => `"${n}"`).join(', ')}]`,
      `[images]\nrepository = "ghcr.io/acme/one-image"\nbuilder = "buildah"\ntags = ["{version}", "latest"]\nsmoke = ["python", "-c", "import ${modules.join(', ')}"]`,
      '[github_release]\nenabled = true',
    ].join('\n');
    const config = repoConfig(toml, dir);
    const started = await startRelease(client, target, config, 'v2.0.0');
    const summary = (await started.handle.result()) as ReleaseSummary;
    const image = summary.images[0]!;
    assert.deepEqual(image.tags, [`${config.images.repository}:2.0.0`, `${config.images.repository}:latest`]);
    assert.deepEqual(
      image.moving?.map((m) => [m.tag, m.moved]),
      [['latest', true]],
    );
    for (const platform of image.verified ?? []) {
      assert.deepEqual(
        platform.packages.map((p) => `${p.name} ${p.version}`).sort(),
        names.map((n) => `${n} 2.0.0`),
        `${platform.platform} has all five`,
      );
    }
    assert.deepEqual(image.verified?.map((v) => v.platform).sort(), ['linux/amd64', 'linux/arm64']);
    const res = await fetch(`http://${stack.registry.host}/v2/${config.images.repository.split('/').slice(1).join('/')}/manifests/latest`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json' },
    });
    assert.equal(res.headers.get('docker-content-digest'), image.digest, "latest is the release's image");

    const release = github.releases.find((r) => r.repository === 'acme/one-image' && r.tag_name === 'v2.0.0');
    assert.ok(release, 'GitHub Release created');
    const listed = release.assets.find((a) => a.name === 'images.txt')?.bytes.toString('utf8') ?? '';
    assert.ok(listed.split('\n').includes(`${config.images.repository}:2.0.0@${image.digest}`), listed);
    assert.ok(listed.split('\n').includes(`${config.images.repository}:latest@${image.digest}`), listed);
    const sums = release.assets.find((a) => a.name === 'SHA256SUMS')?.bytes.toString('utf8') ?? '';
    assert.equal(sums.trim().split('\n').length, 10, 'a wheel and an sdist of each of the five packages');
  });
});
