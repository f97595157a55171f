// Image contents on real parts: real wheels (uv build), installed by the real installer, COPYed into
// FROM scratch images by buildah for linux/amd64 and linux/arm64, pushed to a real docker-registry
// and read back layer by layer with no container engine. Whiteouts cannot come from COPY: the
// layer view on tarballs made with tar-stream is in test/unit/image-contents.test.ts.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { verifyImageContents, type ExpectedPackage, type PublishedWheel } from '../activities/lib/image-contents';
import { RegistryClient, RegistryError } from '../activities/lib/registry-client';
import { startRegistry, type LocalRegistry } from '../src/dev/stack/registry';
import { buildWheel, clearBuildah, installWheels, pushImage } from './support/wheel-images';

const PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;
const SYSTEM_SITE = 'usr/lib/python3/dist-packages';
const VENV_SITE = 'app/.venv/lib/python3.12/site-packages';

/** Counts blob downloads, to prove cached layer scans are not fetched again. */
class CountingClient extends RegistryClient {
  blobs = 0;
  override async getBlob(digest: string, opts?: { timeoutMs?: number }) {
    this.blobs++;
    return super.getBlob(digest, opts);
  }
}

async function mismatch(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => assert.fail('expected the image to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  assert.equal(err.type, 'ImageContentMismatch');
  assert.equal(err.nonRetryable, true);
  return err.message;
}

describe('image contents read back from the registry', () => {
  let root: string;
  let registry: LocalRegistry;
  let published: { core: PublishedWheel; hf: PublishedWheel; hfOld: PublishedWheel; coreWithSpeedups: PublishedWheel };
  const client = (repo: string) => new CountingClient({ registry: registry.host, repository: repo }, { insecure: true });
  const expected = (): ExpectedPackage[] => [
    { name: 'open-ticket-ai', version: '1.0.18', wheels: [published.core] },
    { name: 'otai-hf-local', version: '1.0.18', wheels: [published.hf] },
  ];

  /** One context dir per image: `layers` maps a layer dir to [site-packages path, wheels]. */
  async function image(name: string, layers: Record<string, [string, PublishedWheel[]]>): Promise<string> {
    const context = join(root, 'contexts', name);
    for (const [layer, [site, wheels]] of Object.entries(layers)) {
      await mkdir(join(context, layer), { recursive: true });
      if (wheels.length > 0) await installWheels(join(context, layer), site, wheels);
      else await mkdir(join(context, layer, site), { recursive: true });
    }
    const repository = `softoft-orga/${name}`;
    await pushImage({
      buildahRoot: join(root, 'buildah'),
      ref: `${registry.host}/${repository}:1.0.18`,
      context,
      layers: Object.keys(layers),
      platforms: PLATFORMS,
    });
    return repository;
  }

  const repos: Record<string, string> = {};

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-contents-'));
    registry = await startRegistry({ dataDir: join(root, 'registry') });
    const wheels = join(root, 'wheels');
    const [core, hf, hfElsewhere, hfOld, coreWithSpeedups] = await Promise.all([
      buildWheel(join(wheels, 'a'), { name: 'open-ticket-ai', version: '1.0.18', marker: 'published' }),
      buildWheel(join(wheels, 'b'), { name: 'otai-hf-local', version: '1.0.18', marker: 'published' }),
      // Same name, version and file name, other bytes: what a look-alike index would serve.
      buildWheel(join(wheels, 'c'), { name: 'otai-hf-local', version: '1.0.18', marker: 'from another index' }),
      buildWheel(join(wheels, 'd'), { name: 'otai-hf-local', version: '1.0.17', marker: 'old' }),
      // The host's /usr/bin/true is an x86-64 ELF: right for amd64, wrong for arm64.
      buildWheel(join(wheels, 'e'), { name: 'open-ticket-ai', version: '1.0.18', marker: 'speedups', extra: { '_speedups.so': '/usr/bin/true' } }),
    ]);
    published = { core, hf, hfOld, coreWithSpeedups };
    // Two layers and two kinds of site-packages: a system dist-packages and a virtualenv.
    repos.good = await image('good', { base: [SYSTEM_SITE, [hf]], app: [VENV_SITE, [core]] });
    repos.other = await image('other', { base: [SYSTEM_SITE, [hfElsewhere]], app: [VENV_SITE, [core]] });
    repos.missing = await image('missing', { base: [SYSTEM_SITE, [hfOld]] });
    repos.arch = await image('arch', { app: [VENV_SITE, [coreWithSpeedups]] });
  });

  after(async () => {
    if (root) await clearBuildah(join(root, 'buildah'));
    await registry?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('verifies the published wheels on every platform, and reuses cached layer scans', async () => {
    const cacheDir = join(root, 'cache');
    const reader = client(repos.good!);
    const index = (await reader.getManifest('1.0.18'))!;
    const details: string[] = [];
    const verified = await verifyImageContents({
      client: reader,
      index,
      platforms: PLATFORMS,
      packages: expected(),
      cacheDir,
      heartbeat: (d) => details.push(d),
    });
    assert.deepEqual(
      verified.map((v) => ({ platform: v.platform, packages: v.packages })),
      PLATFORMS.map((platform) => ({
        platform,
        packages: [
          { name: 'open-ticket-ai', version: '1.0.18', wheel: 'open_ticket_ai-1.0.18-py2.py3-none-any.whl' },
          { name: 'otai-hf-local', version: '1.0.18', wheel: 'otai_hf_local-1.0.18-py2.py3-none-any.whl' },
        ],
      })),
    );
    assert.deepEqual(
      verified.map((v) => v.digest),
      PLATFORMS.map((p) => index.json.manifests!.find((m) => `${m.platform?.os}/${m.platform?.architecture}` === p)!.digest),
    );
    assert.ok(details.includes('scanning linux/arm64 layer 2/2'), details.join('\n'));
    assert.ok(reader.blobs > 0);
    assert.ok((await readdir(join(cacheDir, 'layer-scans-v1', 'sha256'))).length >= 2);

    const again = client(repos.good!);
    assert.deepEqual(await verifyImageContents({ client: again, index, platforms: PLATFORMS, packages: expected(), cacheDir }), verified);
    assert.equal(again.blobs, 0, 'a second verification reads every layer scan from the cache');
  });

  it('refuses a package whose files are not the published wheel, naming the platform, path and both hashes', async () => {
    const reader = client(repos.other!);
    const message = await mismatch(
      verifyImageContents({ client: reader, index: (await reader.getManifest('1.0.18'))!, platforms: PLATFORMS, packages: expected() }),
    );
    const lines = message.split('\n');
    assert.equal(lines.length, 2, message);
    for (const [i, platform] of PLATFORMS.entries()) {
      assert.match(
        lines[i]!,
        new RegExp(`^${platform}: otai-hf-local 1\\.0\\.18 installed, but its files are not the published wheel's: was it installed from another index\\? `),
      );
      assert.match(
        lines[i]!,
        /otai_hf_local\/__init__\.py is sha256 [0-9a-f]{64} in the image, sha256 [0-9a-f]{64} in otai_hf_local-1\.0\.18-py2\.py3-none-any\.whl/,
      );
    }
    assert.doesNotMatch(message, /open-ticket-ai/);
  });

  it('refuses a missing package and one installed at another version', async () => {
    const reader = client(repos.missing!);
    const message = await mismatch(
      verifyImageContents({ client: reader, index: (await reader.getManifest('1.0.18'))!, platforms: PLATFORMS, packages: expected() }),
    );
    for (const platform of PLATFORMS) {
      assert.ok(
        message.includes(`${platform}: open-ticket-ai is not installed in the image (no open_ticket_ai-1.0.18.dist-info under any site-packages)`),
        message,
      );
      assert.ok(message.includes(`${platform}: otai-hf-local is installed at 1.0.17, not 1.0.18 (/${SYSTEM_SITE}/otai_hf_local-1.0.17.dist-info)`), message);
    }
  });

  it('refuses compiled code built for another architecture on arm64 while amd64 passes', async () => {
    const reader = client(repos.arch!);
    const index = (await reader.getManifest('1.0.18'))!;
    const packages = [{ name: 'open-ticket-ai', version: '1.0.18', wheels: [published.coreWithSpeedups] }];
    const message = await mismatch(verifyImageContents({ client: reader, index, platforms: PLATFORMS, packages }));
    assert.equal(message, 'linux/arm64: open_ticket_ai/_speedups.so (in open-ticket-ai) is built for x86-64, not arm64');
    const amd64 = await verifyImageContents({ client: reader, index, platforms: ['linux/amd64'], packages });
    assert.deepEqual(
      amd64.map((p) => p.packages),
      [[{ name: 'open-ticket-ai', version: '1.0.18', wheel: published.coreWithSpeedups.filename }]],
    );
  });

  it('names a platform the index lacks', async () => {
    const reader = client(repos.good!);
    const message = await mismatch(
      verifyImageContents({ client: reader, index: (await reader.getManifest('1.0.18'))!, platforms: ['linux/amd64', 'linux/s390x'], packages: expected() }),
    );
    assert.match(message, /^linux\/s390x: not in the pushed index sha256:[0-9a-f]{64} \(it has linux\/amd64, linux\/arm64\)$/);
  });

  it('leaves registry failures to the registry error handling instead of calling them a mismatch', async () => {
    // Its own image: deleting a layer breaks the image for good, so no other test may read it.
    const broken = await image('broken', { base: [SYSTEM_SITE, [published.hfOld]] });
    const reader = client(broken);
    const index = (await reader.getManifest('1.0.18'))!;
    const layer = (await reader.getManifest(index.json.manifests![0]!.digest))!.json.layers![0]!;
    const res = await fetch(`http://${registry.host}/v2/${broken}/blobs/${layer.digest}`, { method: 'DELETE' });
    assert.equal(res.status, 202);
    await assert.rejects(verifyImageContents({ client: reader, index, platforms: ['linux/amd64'], packages: expected() }), (err: unknown) => {
      assert.ok(err instanceof RegistryError, String(err));
      assert.equal(err.status, 404);
      assert.match(err.message, new RegExp(`blob ${layer.digest} of ${broken} is not in the registry`));
      return true;
    });
  });
});
