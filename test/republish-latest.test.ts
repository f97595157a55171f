// The scheduled re-publish of -latest on the time-skipping test server, with the real retag
// activity against a real registry holding images buildah built.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../activities';
import { publishVariantImage } from '../activities/image-build';
import { parseImageRepository, RegistryClient } from '../activities/registry-client';
import { parseConfig, type TagshipConfig } from '../src/config';
import { startRegistry, type LocalRegistry } from '../src/stack/registry';
import { tools } from '../src/stack/tools';
import type { RepublishLatestSummary } from '../workflows/republish-latest';
import { workflowsPath } from '../worker/run';

const EXAMPLE_DIR = fileURLToPath(new URL('../examples/open-ticket-ai', import.meta.url));

describe('republishLatest workflow', { timeout: 5 * 60_000 }, () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let root: string;
  let registry: LocalRegistry;
  let config: TagshipConfig;
  let client: RegistryClient;
  let n = 0;

  async function push(version: string, variant: string): Promise<string> {
    const image = await publishVariantImage({
      sourceDir: EXAMPLE_DIR,
      config,
      version,
      commit: 'c'.repeat(40),
      variant: config.variants.find((v) => v.name === variant)!,
      created: 1_700_000_000,
      buildahRoot: join(root, 'buildah'),
    });
    return image.digest;
  }

  async function republish(running: string[]): Promise<RepublishLatestSummary> {
    const taskQueue = `republish-${++n}`;
    const settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts') };
    // The time-skipping server has no visibility queries; which releases run is given here.
    const activities = { ...createActivities(settings), runningReleaseVersions: async () => running };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
    return worker.runUntil(env.client.workflow.execute('republishLatest', { taskQueue, workflowId: `republish-${n}`, args: [{ config }] }) as Promise<RepublishLatestSummary>);
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-republish-'));
    registry = await startRegistry({ dataDir: join(root, 'registry') });
    config = parseConfig(
      `[images]\nrepository = "${registry.host}/softoft-orga/open-ticket-ai"\nbuilder = "buildah"\ninsecure = true\n\n` +
        '[[variants]]\nname = "core"\npackages = ["open-ticket-ai"]\n\n[[variants]]\nname = "all"\npackages = ["open-ticket-ai", "otai-hf-local"]\n\n' +
        '[[variants]]\nname = "hf_local"\npackages = ["otai-hf-local"]\n',
      'tagship.toml',
    );
    client = new RegistryClient(parseImageRepository(config.images.repository), { insecure: true });
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: tools.temporalTestServer() } } });
    bundle = await bundleWorkflowCode({ workflowsPath });
  });
  after(async () => {
    await env?.teardown();
    await registry?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('moves a -latest that lags behind to the newest stable version, digest kept, and leaves correct ones alone', async () => {
    await push('1.0.17', 'core');
    const newest = await push('1.0.18', 'core');
    await push('1.0.18', 'all');
    await push('1.1.0rc1', 'core');
    // Someone moved core-latest back by hand.
    await client.putManifest('core-latest', (await client.getManifest('1.0.17-core'))!);

    const summary = await republish([]);
    const byVariant = Object.fromEntries(summary.variants.map((v) => [v.variant, v]));
    assert.equal(byVariant.core?.outcome, 'moved');
    assert.equal(byVariant.core?.version, '1.0.18', 'the pre-release is never the target');
    assert.equal((await client.getManifest('core-latest'))?.digest, newest);
    assert.equal(byVariant.all?.outcome, 'unchanged');
    assert.equal(byVariant.hf_local?.outcome, 'none');
    assert.match(byVariant.hf_local?.reason ?? '', /no stable hf_local image/);
  });

  it('is idempotent: a second run changes nothing', async () => {
    const summary = await republish([]);
    assert.ok(summary.variants.filter((v) => v.variant !== 'hf_local').every((v) => v.outcome === 'unchanged'));
  });

  it('skips while a stable release of the repository runs, but not for a running pre-release', async () => {
    await client.putManifest('core-latest', (await client.getManifest('1.0.17-core'))!);
    const skipped = await republish(['1.0.19']);
    assert.match(skipped.skipped ?? '', /release v1\.0\.19 is running/);
    assert.equal((await client.getManifest('core-latest'))?.digest, (await client.getManifest('1.0.17-core'))?.digest);
    const ran = await republish(['1.1.0rc2']);
    assert.equal(ran.skipped, undefined);
    assert.equal((await client.getManifest('core-latest'))?.digest, (await client.getManifest('1.0.18-core'))?.digest);
  });
});
