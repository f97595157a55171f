// The scheduled re-publish of moving tags on the time-skipping test server (and, beside a release
// waiting for an operator, on the dev server), with the real retag activity against a real registry. Images are two-platform OCI indexes uploaded blob by blob
// (test/support/oci-index.ts): the retag only copies manifests, so a real build would add
// minutes and nothing to what is tested here.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../activities';
import { moveTags } from '../activities/lib/image-tags';
import { parseImageRepository, RegistryClient } from '../activities/lib/registry-client';
import { parseConfig } from '../src/config/load';
import type { TagshipConfig } from '../src/config/schema';
import { startRegistry, type LocalRegistry } from '../src/dev/stack/registry';
import { tools } from '../activities/lib/tools';
import { compareVersions, parseVersion } from '../src/contract/version';
import { runningReleases } from '../activities/running-releases';
import { startRelease } from '../src/client/start';
import type { ReleaseActivities, RunningRelease } from '../src/contract/activities';
import { failure } from '../src/contract/failures';
import { statusQuery } from '../src/contract/messages';
import type { ReleaseStatus, RepublishLatestSummary } from '../src/contract/release';
import { SEARCH_ATTRIBUTE_TYPES } from '../src/contract/search-attributes';
import { repositorySlug } from '../src/contract/workflow-ids';
import { startTemporalDevServer, type TemporalDevServer } from '../src/dev/stack/temporal';
import { eventually } from './support/eventually';
import { workflowsPath } from '../worker/run';
import { pushIndex } from './support/oci-index';

describe('republishLatest workflow', { timeout: 5 * 60_000 }, () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let root: string;
  let registry: LocalRegistry;

  function configFor(name: string, tags?: string): TagshipConfig {
    return parseConfig(
      `[images]\nrepository = "${registry.host}/softoft-orga/${name}"\ninsecure = true\n${tags ? `tags = ${tags}\n` : ''}\n` +
        '[[variants]]\nname = "core"\npackages = ["open-ticket-ai"]\n\n[[variants]]\nname = "all"\npackages = ["open-ticket-ai", "otai-hf-local"]\n\n' +
        '[[variants]]\nname = "hf_local"\npackages = ["otai-hf-local"]\n',
      'tagship.toml',
    );
  }

  const clientFor = (config: TagshipConfig) => new RegistryClient(parseImageRepository(config.images.repository), { insecure: true });

  /** What a release does: push the immutable tags, then move the moving ones. */
  async function release(config: TagshipConfig, version: string, variant: string): Promise<string> {
    const client = clientFor(config);
    const pushed = await pushIndex(config, client, version, variant);
    await moveTags(client, config, variant, version, pushed);
    return pushed.digest;
  }

  /** Runs the workflow once; `running` are versions of running releases whose status is not known. */
  async function republish(config: TagshipConfig, running: string[]): Promise<RepublishLatestSummary> {
    const id = randomUUID();
    const taskQueue = `republish-${id}`;
    const settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts') };
    // The time-skipping server has no visibility queries; which releases run is given here (the
    // describe block on the dev server below runs the real activity).
    const activities = {
      ...createActivities(settings),
      runningReleaseVersions: async () => running,
      runningReleases: async (): Promise<RunningRelease[]> => running.map((version) => ({ version, workflowId: `release/o/r/v${version}` })),
    };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
    return worker.runUntil(
      env.client.workflow.execute('republishLatest', { taskQueue, workflowId: `republish-${id}`, args: [{ config }] }) as Promise<RepublishLatestSummary>,
    );
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-republish-'));
    registry = await startRegistry({ dataDir: join(root, 'registry') });
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: tools.temporalTestServer() } } });
    bundle = await bundleWorkflowCode({ workflowsPath });
  });
  after(async () => {
    await env?.teardown();
    await registry?.stop();
    await rm(root, { recursive: true, force: true });
  });

  // Every test releases into an image repository of its own, so each one runs alone just as after the others.
  describe("the seed's tags", () => {
    /** 1.0.17, 1.0.18 and 1.1.0rc1 of core and 1.0.18 of all released, then core-latest moved back to 1.0.17 by hand. */
    async function laggingLatest(name: string): Promise<{ config: TagshipConfig; client: RegistryClient; newest: string }> {
      const config = configFor(name);
      const client = clientFor(config);
      await release(config, '1.0.17', 'core');
      const newest = await release(config, '1.0.18', 'core');
      await release(config, '1.0.18', 'all');
      await release(config, '1.1.0rc1', 'core');
      // Someone moved core-latest back by hand.
      await client.putManifest('core-latest', (await client.getManifest('1.0.17-core'))!);
      return { config, client, newest };
    }

    it('moves a -latest that lags behind to the newest stable version, digest kept, and leaves correct ones alone', async () => {
      const { config, client, newest } = await laggingLatest('seed-moves');

      const summary = await republish(config, []);
      const byVariant = Object.fromEntries(summary.variants.map((v) => [v.variant, v]));
      assert.equal(byVariant.core?.outcome, 'moved');
      assert.equal(byVariant.core?.version, '1.0.18', 'the pre-release is never the target');
      assert.deepEqual(
        byVariant.core?.tags?.map((t) => [t.tag, t.outcome, t.version]),
        [['core-latest', 'moved', '1.0.18']],
      );
      assert.equal((await client.getManifest('core-latest'))?.digest, newest);
      assert.equal(byVariant.all?.outcome, 'unchanged');
      assert.equal(byVariant.hf_local?.outcome, 'none');
      assert.match(byVariant.hf_local?.reason ?? '', /no stable hf_local image/);
    });

    it('is idempotent, also for a config recorded before [images] tags existed', async () => {
      const { config } = await laggingLatest('seed-idempotent');
      assert.equal((await republish(config, [])).variants.find((v) => v.variant === 'core')?.outcome, 'moved', 'the first run');
      const recorded = structuredClone(config) as { images: Partial<TagshipConfig['images']> };
      delete recorded.images.tags;
      const summary = await republish(recorded as TagshipConfig, []);
      assert.ok(summary.variants.filter((v) => v.variant !== 'hf_local').every((v) => v.outcome === 'unchanged'));
    });

    it('skips while a stable release of the repository runs, but not for a running pre-release', async () => {
      const { config, client } = await laggingLatest('seed-skips');
      const skipped = await republish(config, ['1.0.19']);
      assert.equal(skipped.skipped, 'release v1.0.19 is running; it moves the tags of every variant itself');
      assert.deepEqual(skipped.variants, []);
      assert.deepEqual(
        skipped.skippedVariants?.map((s) => s.reason),
        ['core', 'all', 'hf_local'].map((v) => `release v1.0.19 is running (its status could not be read); it moves ${v}'s tags itself`),
      );
      assert.equal((await client.getManifest('core-latest'))?.digest, (await client.getManifest('1.0.17-core'))?.digest);
      const ran = await republish(config, ['1.1.0rc2']);
      assert.equal(ran.skipped, undefined);
      assert.equal((await client.getManifest('core-latest'))?.digest, (await client.getManifest('1.0.18-core'))?.digest);
    });
  });

  describe('tag families', () => {
    const expected: Record<string, string> = {
      '0.9-core': '0.9.4-core',
      '0-core': '0.9.4-core',
      '1.0-core': '1.0.19-core',
      '1.1-core': '1.1.0-core',
      '1-core': '1.1.0-core',
      'core-latest': '1.1.0-core',
      '1.0-all': '1.0.18-all',
      '1.1-all': '1.1.0-all',
      '1-all': '1.1.0-all',
      'all-latest': '1.1.0-all',
    };
    // By hand: some tags moved back, one onto a pre-release of its family.
    const wrong: Record<string, string> = {
      '1.0-core': '1.0.17-core',
      '1-core': '1.0.18-core',
      'core-latest': '0.9.4-core',
      '1.1-core': '1.1.1rc1-core',
      'all-latest': '1.0.18-all',
      '1-all': '1.0.18-all',
    };

    /** Releases of core and all in a mixed order, into the image repository `name`, with tag families. */
    async function families(name: string) {
      const config = configFor(name, '["{version}-{variant}", "{major}.{minor}-{variant}", "{major}-{variant}", "{variant}-latest"]');
      const client = clientFor(config);
      const digests = new Map<string, string>();
      // 1.0.19 is a backport published after 1.1.0; the pre-releases never get a moving tag.
      for (const v of ['0.9.4', '1.0.17', '1.1.0', '1.0.18', '1.1.1rc1', '2.0.0b1', '1.0.19']) digests.set(`${v}-core`, await release(config, v, 'core'));
      for (const v of ['1.0.18', '1.1.0']) digests.set(`${v}-all`, await release(config, v, 'all'));
      assert.equal(new Set(digests.values()).size, digests.size, 'every image has its own digest');
      const versionOf = (digest: string | undefined) => [...digests].find(([, d]) => d === digest)?.[0];
      const moveBack = async () => {
        for (const [tag, source] of Object.entries(wrong)) await client.putManifest(tag, (await client.getManifest(source))!);
      };
      return { config, client, digests, versionOf, moveBack };
    }

    it("puts every family's tag back on its newest stable version, never moving one backwards", async () => {
      const { config, client, digests, versionOf, moveBack } = await families('families-back');
      for (const [tag, source] of Object.entries(expected))
        assert.equal((await client.getManifest(tag))?.digest, digests.get(source), `${tag} after the releases`);
      await moveBack();
      const before = new Map<string, string | undefined>();
      for (const tag of Object.keys(expected)) before.set(tag, versionOf((await client.getManifest(tag))?.digest));

      const summary = await republish(config, []);

      for (const [tag, source] of Object.entries(expected)) {
        const now = versionOf((await client.getManifest(tag))?.digest);
        assert.equal(now, source, `${tag} is back on ${source}`);
        const was = parseVersion(before.get(tag)!.replace(/-(core|all)$/, ''))!;
        if (was.pre === undefined)
          assert.ok(compareVersions(parseVersion(source.replace(/-(core|all)$/, ''))!, was) >= 0, `${tag} moved back from ${before.get(tag)}`);
      }
      for (const tag of ['2.0-core', '2-core', '1.1.1-core', '0.9-all']) assert.equal(await client.getManifest(tag), undefined, `${tag} has no stable release`);

      const byVariant = Object.fromEntries(summary.variants.map((v) => [v.variant, v]));
      const outcomes = (variant: string) => Object.fromEntries((byVariant[variant]?.tags ?? []).map((t) => [t.tag, t.outcome]));
      assert.deepEqual(outcomes('core'), {
        '0.9-core': 'unchanged',
        '1.0-core': 'moved',
        '1.1-core': 'moved',
        '0-core': 'unchanged',
        '1-core': 'moved',
        'core-latest': 'moved',
      });
      assert.deepEqual(outcomes('all'), { '1.0-all': 'unchanged', '1.1-all': 'unchanged', '1-all': 'moved', 'all-latest': 'moved' });
      assert.equal(byVariant.core?.version, '1.1.0');
      assert.equal(byVariant.core?.digest, digests.get('1.1.0-core'));
      assert.match(byVariant.core?.tags?.find((t) => t.tag === '1.0-core')?.reason ?? '', /^now 1\.0\.19, the newest stable 1\.0\.x$/);
      assert.equal(byVariant.hf_local?.outcome, 'none');
    });

    it('changes nothing on the next run', async () => {
      const { config, moveBack } = await families('families-next');
      await moveBack();
      assert.ok(
        (await republish(config, [])).variants.some((v) => v.outcome === 'moved'),
        'the first run puts the tags back',
      );
      const summary = await republish(config, []);
      assert.deepEqual(
        summary.variants.map((v) => v.outcome),
        ['unchanged', 'unchanged', 'none'],
      );
      assert.match(summary.variants[0]!.reason, /^0\.9-core, 1\.0-core, 1\.1-core, 0-core, 1-core, core-latest already right$/);
    });
  });
});

// Which releases run and what they still have ahead is read from Temporal itself here: the real
// runningReleases activity lists them through visibility (the dev server has it; the time-skipping
// one has not) and asks each one's status query. The release is the real release workflow; only
// its steps are stand-ins, with the image step of core failing so it waits for an operator.
describe('republishLatest beside a release waiting for an operator', { timeout: 5 * 60_000 }, () => {
  let root: string;
  let registry: LocalRegistry;
  let server: TemporalDevServer;
  let nativeConnection: NativeConnection;
  let connection: Connection;
  let client: Client;
  let bundle: WorkflowBundleWithSourceMap;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-republish-dev-'));
    registry = await startRegistry({ dataDir: join(root, 'registry') });
    server = await startTemporalDevServer({ headless: true, searchAttributes: SEARCH_ATTRIBUTE_TYPES });
    nativeConnection = await NativeConnection.connect({ address: server.address });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: server.namespace });
    bundle = await bundleWorkflowCode({ workflowsPath });
  });
  after(async () => {
    await connection?.close();
    await nativeConnection?.close();
    await server?.stop();
    await registry?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** The steps of a release that get as far as its images; the image of `stuck` fails so the release waits for an operator. */
  function releaseSteps(stuck: string): Partial<ReleaseActivities> {
    return {
      async validateRelease({ config, tag }) {
        return { version: tag.slice(1), commit: 'c'.repeat(40), packages: config.packages.map((p) => ({ name: p.name, version: tag.slice(1) })) };
      },
      async preflightRelease() {
        return { checks: [] };
      },
      async buildPackage(i) {
        return {
          package: i.package,
          version: i.version,
          files: [{ filename: `${i.package}-${i.version}.tar.gz`, kind: 'sdist', size: 1, sha256: 'a'.repeat(64) }],
        };
      },
      async publishPackage(i) {
        return { package: i.package, uploaded: i.files.map((f) => f.filename), alreadyPresent: [] };
      },
      async waitUntilVisible(i) {
        return { package: i.package, polls: 1 };
      },
      async publishImage(i) {
        if (i.variant === stuck) throw failure('ImageContentMismatch', `${i.variant} does not contain the published wheels`);
        return {
          variant: i.variant,
          tags: [],
          digest: `sha256:${'b'.repeat(64)}`,
          platforms: ['linux/amd64', 'linux/arm64'],
          latest: { moved: true, reason: 'newest' },
        };
      },
      async publishGitHubRelease(i) {
        return { id: 1, url: `https://github.com/o/r/releases/tag/${i.tag}`, created: true, assetsUploaded: [], assetsUnchanged: [] };
      },
    };
  }

  it('re-tags the variants the release has finished and skips the one it waits on, naming the release', async () => {
    const config = parseConfig(
      `[images]\nrepository = "${registry.host}/softoft-orga/beside-operator"\ninsecure = true\n\n` +
        '[[variants]]\nname = "core"\npackages = ["open-ticket-ai"]\n\n[[variants]]\nname = "all"\npackages = ["open-ticket-ai", "otai-hf-local"]\n\n' +
        '[[variants]]\nname = "hf_local"\npackages = ["otai-hf-local"]\n',
      'tagship.toml',
    );
    const images = new RegistryClient(parseImageRepository(config.images.repository), { insecure: true });
    for (const variant of ['core', 'all']) {
      for (const version of ['1.0.17', '1.0.18']) await moveTags(images, config, variant, version, await pushIndex(config, images, version, variant));
      // Both -latest tags moved back by hand, so the re-publish has work in both variants.
      await images.putManifest(`${variant}-latest`, (await images.getManifest(`1.0.17-${variant}`))!);
    }

    const taskQueue = `republish-dev-${randomUUID()}`;
    const settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts') };
    const activities = { ...createActivities(settings), ...releaseSteps('core'), runningReleases };
    const worker = await Worker.create({ connection: nativeConnection, namespace: server.namespace, taskQueue, workflowBundle: bundle, activities });
    await worker.runUntil(async () => {
      const { handle } = await startRelease(client, { taskQueue }, config, 'v1.0.19');
      const imageStates = (s: ReleaseStatus) => s.steps.filter((step) => step.step.startsWith('image:')).map((step) => `${step.step}=${step.state}`);
      await eventually(
        'v1.0.19 waiting for an operator on image:core, its other images done',
        () => handle.query(statusQuery),
        (s) => imageStates(s).join(' ') === 'image:core=waiting-for-operator image:all=succeeded image:hf_local=succeeded',
        { show: (s) => imageStates(s).join(' ') },
      );
      const query = `WorkflowType = 'release' AND ExecutionStatus = 'Running' AND TagshipRepo = '${repositorySlug(config)}'`;
      await eventually(
        'v1.0.19 listed by visibility',
        async () => (await client.workflow.count(query)).count,
        (n) => n === 1,
      );

      const summary = (await client.workflow.execute('republishLatest', {
        taskQueue,
        workflowId: `republish-dev-${randomUUID()}`,
        args: [{ config }],
      })) as RepublishLatestSummary;

      assert.equal(summary.skipped, undefined, 'the re-publish ran');
      assert.deepEqual(summary.skippedVariants, [
        { variant: 'core', release: 'v1.0.19', reason: "release v1.0.19 is waiting for an operator on image:core; it moves core's tags itself" },
      ]);
      assert.deepEqual(
        summary.variants.map((v) => [v.variant, v.outcome]),
        [
          ['all', 'moved'],
          ['hf_local', 'none'],
        ],
      );
      assert.equal((await images.getManifest('all-latest'))?.digest, (await images.getManifest('1.0.18-all'))?.digest, 'all-latest re-tagged');
      assert.equal((await images.getManifest('core-latest'))?.digest, (await images.getManifest('1.0.17-core'))?.digest, 'core-latest left to v1.0.19');
      await handle.terminate('test over');
    });
  });
});
