// Image publishing on real parts: buildah (vfs) builds the example's FROM scratch Dockerfile for
// linux/amd64 and linux/arm64 and pushes to a real docker-registry, which is then read back.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { buildahBuildArgs, dockerBuildxArgs, planImage, publishVariantImage, type ImageJob } from '../activities/image-build';
import { parseImageRepository, RegistryClient } from '../activities/registry-client';
import { parseConfig, type TagshipConfig } from '../src/config';
import { startRegistry, type LocalRegistry } from '../src/stack/registry';

const COMMIT = 'a'.repeat(40);
const EXAMPLE_DIR = fileURLToPath(new URL('../examples/open-ticket-ai', import.meta.url));

function configFor(host: string, extra = ''): TagshipConfig {
  return parseConfig(`[images]\nrepository = "${host}/softoft-orga/open-ticket-ai"\nbuilder = "buildah"\ninsecure = true\n${extra}`, 'test.toml');
}

function job(config: TagshipConfig, root: string, version: string, variant = 'core'): ImageJob {
  return {
    sourceDir: EXAMPLE_DIR,
    config,
    version,
    commit: COMMIT,
    variant: config.variants.find((v) => v.name === variant)!,
    created: 1_700_000_000,
    buildahRoot: join(root, 'buildah'),
  };
}

describe('image build and push', () => {
  let root: string;
  let registry: LocalRegistry;
  let config: TagshipConfig;
  let client: RegistryClient;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-image-'));
    registry = await startRegistry({ dataDir: join(root, 'registry') });
    config = configFor(registry.host);
    client = new RegistryClient(parseImageRepository(config.images.repository), { insecure: true });
  });
  after(async () => {
    await registry?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('pushes <version>-<variant> with every platform and OCI labels, and points <variant>-latest at the same digest', async () => {
    const image = await publishVariantImage(job(config, root, '1.0.18', 'hf_local'));
    assert.deepEqual(image.platforms, ['linux/amd64', 'linux/arm64']);
    assert.deepEqual(image.tags, [`${config.images.repository}:1.0.18-hf_local`, `${config.images.repository}:hf_local-latest`]);
    assert.equal(image.latest.moved, true);
    const versioned = await client.getManifest('1.0.18-hf_local');
    const latest = await client.getManifest('hf_local-latest');
    assert.equal(versioned?.digest, image.digest);
    assert.equal(latest?.digest, image.digest);
    const labels = await client.getConfigLabels(versioned!.json.manifests![0]!.digest);
    assert.equal(labels['org.opencontainers.image.version'], '1.0.18');
    assert.equal(labels['org.opencontainers.image.revision'], COMMIT);
    assert.equal(labels['org.opencontainers.image.source'], 'https://github.com/Softoft-Orga/open-ticket-ai');
    assert.equal(labels['io.tagship.example.packages'], 'open-ticket-ai==1.0.18 otai-hf-local==1.0.18');
  });

  it('rebuilding the same release gives the same digest (a retried step is harmless)', async () => {
    const first = await client.getManifest('1.0.18-hf_local');
    const again = await publishVariantImage(job(config, root, '1.0.18', 'hf_local'));
    assert.equal(again.digest, first?.digest);
  });

  it('keeps <variant>-latest on the newest stable release when an older or pre-release version is pushed', async () => {
    const before = await client.getManifest('hf_local-latest');
    const older = await publishVariantImage(job(config, root, '1.0.17', 'hf_local'));
    assert.equal(older.latest.moved, false);
    assert.match(older.latest.reason, /1\.0\.18 is newer/);
    const pre = await publishVariantImage(job(config, root, '1.1.0rc1', 'hf_local'));
    assert.equal(pre.latest.moved, false);
    assert.equal((await client.getManifest('hf_local-latest'))?.digest, before?.digest);
    assert.ok(await client.getManifest('1.0.17-hf_local'), 'the older version is still published under its own tag');
  });

  it('fails without retrying when the Dockerfile is missing, naming the config key', async () => {
    const broken = configFor(registry.host, 'dockerfile = "docker/Missing.Dockerfile"\n');
    await assert.rejects(publishVariantImage(job(broken, root, '1.0.18')), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable);
      assert.match(err.message, /docker\/Missing\.Dockerfile not found .*images\.dockerfile/);
      return true;
    });
  });

  it('reports a refused push as a non-retryable failure and leaves no tag behind', async () => {
    const locked = await startRegistry({ dataDir: join(root, 'locked'), readOnly: true });
    try {
      const lockedConfig = configFor(locked.host);
      await assert.rejects(publishVariantImage(job(lockedConfig, root, '1.0.18')), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure, String(err));
        assert.equal(err.type, 'ImagePushRefused');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /refused the push of .*1\.0\.18-core/);
        return true;
      });
      const lockedClient = new RegistryClient(parseImageRepository(lockedConfig.images.repository), { insecure: true });
      assert.equal(await lockedClient.getManifest('1.0.18-core'), undefined);
    } finally {
      await locked.stop();
    }
  });
});

describe('builder command lines', () => {
  const config = parseConfig('', 'defaults');
  const plan = planImage({ sourceDir: '/src', config, version: '1.0.18', commit: COMMIT, variant: config.variants[3]!, created: 1_700_000_000 });

  it('docker buildx builds every platform in one multi-platform push with labels and build args', () => {
    const args = dockerBuildxArgs(plan, '/tmp/meta.json');
    assert.deepEqual(args.slice(0, 4), ['buildx', 'build', '--platform', 'linux/amd64,linux/arm64']);
    assert.ok(args.includes('ghcr.io/softoft-orga/open-ticket-ai:1.0.18-all'));
    assert.ok(args.includes('PACKAGES=open-ticket-ai==1.0.18 otai-hf-local==1.0.18 otai-otobo-znuny==1.0.18'));
    assert.ok(args.includes('org.opencontainers.image.version=1.0.18'));
    assert.ok(args.includes('SOURCE_DATE_EPOCH=1700000000'));
    assert.ok(args.includes('--push'));
    assert.equal(args.at(-1), '/src');
    assert.equal(args.at(-2), '--', 'the context cannot be read as an option');
  });

  it('buildah uses vfs storage and a named manifest list, one platform per build, with reproducible timestamps', () => {
    const args = buildahBuildArgs(plan, '/var/tagship', 'tagship-all-x', 'linux/arm64');
    assert.deepEqual(args.slice(0, 6), ['--root', '/var/tagship/storage', '--runroot', '/var/tagship/run', '--storage-driver', 'vfs']);
    assert.ok(args.includes('--manifest') && args.includes('tagship-all-x'));
    assert.ok(args.includes('linux/arm64') && !args.includes('linux/amd64'), 'one platform per build keeps the index order stable');
    assert.ok(args.includes('--timestamp') && args.includes('1700000000'));
  });
});
