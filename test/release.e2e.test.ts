// The whole release on real parts: git tag → uv build → pypiserver → buildah (the seed-shaped
// Dockerfile, RUN steps for linux/amd64 natively and linux/arm64 under QEMU) → docker-registry,
// orchestrated by the real Temporal dev server and an in-process worker.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { execa } from 'execa';
import { tools } from '../activities/lib/tools';
import { ReleaseAlreadyDoneError, startRelease } from '../src/client/start';
import { followRelease, type StepEvent } from '../src/client/follow';
import type { ReleaseSummary } from '../src/contract/release';
import { git, tagVersion } from '../src/dev/demo/example-repo';
import { listProjectFiles } from '../activities/lib/simple-index';
import { workflowsPath } from '../worker/run';
import { dataConverter } from '../src/codec/data-converter';
import { startReleaseEnv, type ReleaseEnv } from './support/release-env';
import { statusQuery } from '../src/contract/messages';

const VARIANTS = ['core', 'hf_local', 'otobo_znuny', 'all'];
const PACKAGES = ['open-ticket-ai', 'otai-hf-local', 'otai-otobo-znuny'];

async function manifest(env: ReleaseEnv, tag: string): Promise<{ digest: string; platforms: string[] }> {
  const name = env.config.images.repository.split('/').slice(1).join('/');
  const res = await fetch(`http://${env.stack.registry.host}/v2/${name}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json' },
  });
  assert.equal(res.status, 200, `registry has ${tag}`);
  const body = (await res.json()) as { manifests: { platform: { os: string; architecture: string } }[] };
  return {
    digest: res.headers.get('docker-content-digest') ?? '',
    platforms: body.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort(),
  };
}

async function failureMessage(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, `expected a workflow failure, got ${String(err)}`);
    let e: Error | undefined = err;
    const messages: string[] = [];
    while (e) {
      messages.push(e.message);
      e = (e as { cause?: Error }).cause;
    }
    return messages.join('\n');
  }
  assert.fail('the release should have failed');
}

describe('release end to end', { timeout: 15 * 60_000 }, () => {
  let env: ReleaseEnv;

  /**
   * The full release of v1.0.18, run once by whichever test needs it first and shared by the tests
   * that look at it: each of them runs alone just as well (it then makes the release itself).
   */
  let released: Promise<{ workflowId: string; summary: ReleaseSummary; steps: StepEvent[] }> | undefined;
  const release1018 = () =>
    (released ??= (async () => {
      const started = await startRelease(env.client, env.target, env.config, 'v1.0.18');
      const steps: StepEvent[] = [];
      const summary = await followRelease(started.handle, (e) => steps.push(e), 200);
      return { workflowId: started.workflowId, summary, steps };
    })());

  /** A branch of its own from the v1.0.18 commit, so no test builds on what another one committed or checked out. */
  const branchFrom1018 = (name: string) => git(env.repoDir, ['checkout', '--quiet', '-B', name, 'v1.0.18']);

  before(async () => {
    env = await startReleaseEnv('1.0.18');
  });
  after(async () => {
    await env?.stop();
  });

  it('publishes every package file and every image variant for both platforms', async () => {
    const { workflowId, summary } = await release1018();
    assert.equal(workflowId, 'release/Softoft-Orga/open-ticket-ai/v1.0.18');

    assert.equal(summary.version, '1.0.18');
    assert.deepEqual(summary.packages.map((p) => p.package).sort(), [...PACKAGES].sort());
    for (const pkg of summary.packages) {
      assert.equal(pkg.files.length, 2, `${pkg.package} has an sdist and a wheel`);
      const onIndex = await listProjectFiles(env.stack.index.simpleUrl, pkg.package);
      for (const file of pkg.files) {
        const listed = onIndex.find((f) => f.filename === file.filename);
        assert.ok(listed, `${file.filename} is on the index`);
        assert.equal(listed.sha256, file.sha256, `${file.filename} on the index has the built hash`);
        // The bytes the index serves hash to what the build recorded.
        const url = new URL(`../../packages/${file.filename}`, `${env.stack.index.simpleUrl}${pkg.package}/`);
        const bytes = Buffer.from(await (await fetch(url)).arrayBuffer());
        assert.equal(createHash('sha256').update(bytes).digest('hex'), file.sha256);
        assert.equal(bytes.length, file.size);
      }
      assert.deepEqual([...pkg.uploaded].sort(), pkg.files.map((f) => f.filename).sort());
    }

    assert.deepEqual(summary.images.map((i) => i.variant).sort(), [...VARIANTS].sort());
    for (const variant of VARIANTS) {
      const versioned = await manifest(env, `1.0.18-${variant}`);
      const latest = await manifest(env, `${variant}-latest`);
      assert.deepEqual(versioned.platforms, ['linux/amd64', 'linux/arm64']);
      assert.equal(latest.digest, versioned.digest, `${variant}-latest points at 1.0.18`);
      const image = summary.images.find((i) => i.variant === variant)!;
      assert.equal(image.digest, versioned.digest);
      assert.equal(image.latest.moved, true);
      // Proven from the registry, per platform: every package of the variant, from the wheel this release built.
      const packages = env.config.variants.find((v) => v.name === variant)!.packages;
      assert.deepEqual(
        image.verified?.map((v) => v.platform),
        ['linux/amd64', 'linux/arm64'],
      );
      for (const platform of image.verified) {
        assert.deepEqual(
          platform.packages.map((p) => `${p.name} ${p.version}`).sort(),
          packages.map((p) => `${p} 1.0.18`).sort(),
          `${variant} ${platform.platform}`,
        );
        for (const p of platform.packages) {
          const built = summary.packages.find((b) => b.package === p.name)!.files.find((f) => f.kind === 'wheel')!;
          assert.equal(p.wheel, built.filename, `${variant} ${platform.platform} holds the wheel this release built`);
        }
      }
    }
  });

  it('shows the verified packages per platform in the image step of the status table', async () => {
    const { workflowId } = await release1018();
    const status = await env.client.workflow.getHandle(workflowId).query(statusQuery);
    const core = status.steps.find((s) => s.step === 'image:core')!;
    assert.equal(core.state, 'succeeded');
    assert.equal(core.note, 'linux/amd64: open-ticket-ai 1.0.18; linux/arm64: open-ticket-ai 1.0.18');
  });

  it('names every step in history and starts an image only after its packages are visible', async () => {
    const { steps } = await release1018();
    const completedAt = (step: string) => steps.findIndex((e) => e.kind === 'completed' && e.step === step);
    const startedAt = (step: string) => steps.findIndex((e) => e.kind === 'scheduled' && e.step === step);
    for (const p of PACKAGES) {
      for (const kind of ['build', 'publish', 'visible']) assert.ok(completedAt(`${kind}:${p}`) >= 0, `${kind}:${p} completed`);
    }
    assert.ok(startedAt('image:core') > completedAt('visible:open-ticket-ai'));
    assert.ok(startedAt('image:all') > completedAt('visible:otai-hf-local'));
    assert.ok(startedAt('image:all') > completedAt('visible:otai-otobo-znuny'));
  });

  it('replays its own history deterministically', async () => {
    const { workflowId } = await release1018();
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    await Worker.runReplayHistory({ workflowsPath, dataConverter: dataConverter(env.stack.codec) }, history, workflowId);
    if (process.env.TAGSHIP_RECORD_HISTORY) {
      // The CLI writes the canonical proto3 JSON that historyFromJSON reads back.
      const shown = await execa(tools.temporal(), [
        'workflow',
        'show',
        '--workflow-id',
        workflowId,
        '--address',
        env.target.address,
        '--namespace',
        env.target.namespace,
        '--output',
        'json',
      ]);
      await writeFile(join(import.meta.dirname, 'fixtures', 'release-v1.0.18.history.json'), shown.stdout);
    }
  });

  it('never releases a completed version twice', async () => {
    await release1018();
    await assert.rejects(startRelease(env.client, env.target, env.config, 'v1.0.18'), ReleaseAlreadyDoneError);
  });

  it("rejects packages whose versions differ, with the seed's words", async () => {
    await branchFrom1018('versions-differ');
    await writeFile(
      join(env.repoDir, 'packages/otai_hf_local/pyproject.toml'),
      (await import('node:fs'))
        .readFileSync(join(env.repoDir, 'packages/otai_hf_local/pyproject.toml'), 'utf8')
        .replace('version = "1.0.18"', 'version = "1.0.19"'),
    );
    await git(env.repoDir, ['commit', '--quiet', '-am', 'bump one plugin only']);
    await git(env.repoDir, ['tag', 'v1.0.19']);
    const started = await startRelease(env.client, env.target, env.config, 'v1.0.19');
    const message = await failureMessage(started.handle.result());
    assert.match(message, /ERROR: All package versions must be identical!/);
  });

  it('rejects a tag that does not match the package version', async () => {
    await git(env.repoDir, ['tag', 'v1.0.20', 'v1.0.18']);
    const started = await startRelease(env.client, env.target, env.config, 'v1.0.20');
    const message = await failureMessage(started.handle.result());
    assert.match(message, /ERROR: Tag version \(1\.0\.20\) doesn't match package version \(1\.0\.18\)/);
  });

  it('releases an older version without moving -latest backwards', async () => {
    // -latest on the newer 1.0.18 first.
    await release1018();
    await branchFrom1018('maint');
    const old = await tagVersion(env.repoDir, '1.0.17');
    const before = await manifest(env, 'core-latest');
    const started = await startRelease(env.client, env.target, env.config, old.tag);
    const result = await started.handle.result();
    assert.equal(result.images.length, 4);
    for (const image of result.images) assert.equal(image.latest.moved, false, `${image.variant}-latest stays`);
    assert.equal((await manifest(env, 'core-latest')).digest, before.digest);
    assert.deepEqual((await manifest(env, '1.0.17-core')).platforms, ['linux/amd64', 'linux/arm64']);
  });
});
