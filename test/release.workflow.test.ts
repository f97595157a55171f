// The release workflow's orchestration, with the activities replaced by recording fakes, on the
// real time-skipping test server (so retry back-offs take no wall time).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { parseConfig } from '../src/config';
import type { ReleaseSummary } from '../src/release-types';
import { tools } from '../src/stack/tools';
import type { createActivities } from '../activities';
import { workflowsPath } from '../worker/run';

type Activities = ReturnType<typeof createActivities>;
const config = parseConfig('', 'defaults');

function fakeActivities(log: string[], overrides: Partial<Activities> = {}): Activities {
  return {
    async validateRelease({ tag }) {
      log.push('validate');
      return { version: tag.slice(1), commit: 'c'.repeat(40), packages: config.packages.map((p) => ({ name: p.name, version: tag.slice(1) })) };
    },
    async buildPackage(i) {
      log.push(`build:${i.package}`);
      return { package: i.package, version: i.version, files: [{ filename: `${i.package}-${i.version}.tar.gz`, kind: 'sdist', size: 1, sha256: 'a'.repeat(64) }] };
    },
    async publishPackage(i) {
      log.push(`publish:${i.package}`);
      return { package: i.package, uploaded: i.files.map((f) => f.filename), alreadyPresent: [] };
    },
    async waitUntilVisible(i) {
      log.push(`visible:${i.package}`);
      return { package: i.package, polls: 1 };
    },
    async publishImage(i) {
      log.push(`image:${i.variant}`);
      return { variant: i.variant, tags: [`r:${i.version}-${i.variant}`], digest: `sha256:${'b'.repeat(64)}`, platforms: ['linux/amd64', 'linux/arm64'], latest: { moved: true, reason: 'newest' } };
    },
    ...overrides,
  };
}

describe('release workflow', { timeout: 5 * 60_000 }, () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let n = 0;

  before(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: tools.temporalTestServer() } } });
    bundle = await bundleWorkflowCode({ workflowsPath });
  });
  after(async () => {
    await env?.teardown();
  });

  async function run(activities: Activities, input: { tag: string; dryRun?: boolean }): Promise<ReleaseSummary> {
    const taskQueue = `wf-${++n}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
    return worker.runUntil(
      env.client.workflow.execute('release', { taskQueue, workflowId: `release-test-${n}`, args: [{ config, ...input }] }) as Promise<ReleaseSummary>,
    );
  }

  it('runs validate, then every build, then publish → visible per package, then every image variant', async () => {
    const log: string[] = [];
    const summary = await run(fakeActivities(log), { tag: 'v1.0.18' });
    assert.equal(log[0], 'validate');
    const lastBuild = Math.max(...config.packages.map((p) => log.indexOf(`build:${p.name}`)));
    const firstPublish = Math.min(...config.packages.map((p) => log.indexOf(`publish:${p.name}`)));
    assert.ok(lastBuild < firstPublish, 'nothing is uploaded before every package built');
    for (const v of config.variants) {
      const img = log.indexOf(`image:${v.name}`);
      assert.ok(img > 0, `image ${v.name} built`);
      for (const p of v.packages) assert.ok(log.indexOf(`visible:${p}`) < img, `${v.name} waits for ${p}`);
    }
    assert.equal(summary.images.length, 4);
    assert.equal(summary.packages.length, 3);
  });

  it('starts a variant as soon as its own packages are visible, not when all are', async () => {
    const log: string[] = [];
    let coreImageStarted!: () => void;
    const coreImage = new Promise<void>((r) => (coreImageStarted = r));
    const base = fakeActivities(log);
    const summary = await run(
      fakeActivities(log, {
        // The plugin stays invisible until the core image is being built: if the workflow waited
        // for every package first, this release would never finish.
        async waitUntilVisible(i) {
          if (i.package !== 'open-ticket-ai') await coreImage;
          return base.waitUntilVisible(i);
        },
        async publishImage(i) {
          if (i.variant === 'core') coreImageStarted();
          return base.publishImage(i);
        },
      }),
      { tag: 'v1.0.18' },
    );
    assert.ok(log.indexOf('image:core') < log.indexOf('visible:otai-hf-local'));
    assert.equal(summary.images.length, 4);
  });

  it('dry run builds but uploads and pushes nothing', async () => {
    const log: string[] = [];
    const summary = await run(fakeActivities(log), { tag: 'v1.0.18', dryRun: true });
    assert.ok(log.some((l) => l.startsWith('build:')));
    assert.ok(!log.some((l) => l.startsWith('publish:') || l.startsWith('image:')));
    assert.equal(summary.dryRun, true);
    assert.equal(summary.images.length, 0);
  });

  it('retries a flaky upload and completes', async () => {
    const log: string[] = [];
    let attempts = 0;
    const base = fakeActivities(log);
    const summary = await run(
      fakeActivities(log, {
        async publishPackage(i) {
          if (i.package === 'otai-hf-local' && ++attempts < 3) throw new Error('upload failed (HTTP 503)');
          return base.publishPackage(i);
        },
      }),
      { tag: 'v1.0.18' },
    );
    assert.equal(attempts, 3);
    assert.equal(summary.images.length, 4);
  });

  it('uploads nothing when one package fails to build', async () => {
    const log: string[] = [];
    const base = fakeActivities(log);
    await assert.rejects(
      run(
        fakeActivities(log, {
          async buildPackage(i) {
            if (i.package === 'otai-otobo-znuny') throw ApplicationFailure.nonRetryable('uv build of otai-otobo-znuny failed (exit 1)', 'BuildFailed');
            return base.buildPackage(i);
          },
        }),
        { tag: 'v1.0.18' },
      ),
      (err: unknown) => err instanceof WorkflowFailedError && /otai-otobo-znuny failed/.test(String((err.cause as Error)?.cause ?? err.cause)),
    );
    assert.ok(!log.some((l) => l.startsWith('publish:')));
  });
});
