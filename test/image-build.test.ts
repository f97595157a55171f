// The image step on real parts: buildah builds real Dockerfiles (FROM the stack's two-platform
// Python base in a plain-HTTP registry, RUN steps under QEMU for linux/arm64), installs from a
// real pypiserver, smoke-tests, pushes to a real docker-registry, and the contents are proven
// from the registry. Each failure class is checked for its type, its retry rule and its message.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { sha256File } from '../activities/lib/artifact-store';
import { publishVariantImage, type ImageJob } from '../activities/lib/image-build';
import type { ExpectedPackage } from '../activities/lib/image-contents';
import { parseImageRepository, RegistryClient } from '../activities/lib/registry-client';
import { parseConfig } from '../src/config/load';
import type { TagshipConfig } from '../src/config/schema';
import { ensureBaseImage } from '../src/dev/stack/base-image';
import { startPypiServer, type PypiServer } from '../src/dev/stack/pypiserver';
import { startRegistry, type LocalRegistry } from '../src/dev/stack/registry';
import { buildTinyPackage } from './support/tiny-package';

const COMMIT = 'b'.repeat(40);
const VERSION = '1.0.0';

// The seed's shape: bash with -eo pipefail, a loop over $PACKAGES pinned to $VERSION, from $INDEX_URL only.
const SEED_DOCKERFILE = `ARG BASE_IMAGE
FROM \${BASE_IMAGE}
SHELL ["/bin/bash", "-eo", "pipefail", "-c"]
ARG VERSION
ARG PACKAGES
ARG INDEX_URL
ENV UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never
RUN uv venv --quiet /opt/venv --python python3 && \\
    for p in $PACKAGES; do uv pip install --python /opt/venv --index-url "$INDEX_URL" "$p==$VERSION"; done
HEALTHCHECK CMD ["/opt/venv/bin/python", "-c", "import otai_probe"]
ENTRYPOINT ["/opt/venv/bin/python", "-c", "import otai_probe; print(otai_probe.MARKER)"]
`;

interface Wheel {
  readonly filename: string;
  readonly path: string;
}

async function wheelOf(dist: string): Promise<Wheel> {
  const filename = (await readdir(dist)).find((f) => f.endsWith('.whl'))!;
  return { filename, path: join(dist, filename) };
}

async function serve(index: PypiServer, wheel: Wheel): Promise<void> {
  await copyFile(wheel.path, join(index.packagesDir, wheel.filename));
}

async function expected(name: string, wheel: Wheel): Promise<ExpectedPackage[]> {
  return [{ name, version: VERSION, wheels: [{ filename: wheel.filename, sha256: await sha256File(wheel.path), path: wheel.path }] }];
}

function isFailure(type: string, nonRetryable: boolean, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, nonRetryable, err.message);
    assert.match(err.message, message);
    return true;
  };
}

describe('image step on real Dockerfiles', { timeout: 15 * 60_000 }, () => {
  let root: string;
  let registry: LocalRegistry;
  let index: PypiServer;
  let otherIndex: PypiServer;
  let baseImage: string;
  let published: Wheel;
  let impostor: Wheel;
  let foreign: Wheel;
  let n = 0;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-image-'));
    registry = await startRegistry({ dataDir: join(root, 'registry') });
    [index, otherIndex] = await Promise.all([startPypiServer({ dataDir: join(root, 'index') }), startPypiServer({ dataDir: join(root, 'other-index') })]);
    baseImage = (await ensureBaseImage({ registryHost: registry.host })).ref;
    published = await wheelOf(await buildTinyPackage(root, 'otai-probe', VERSION, 'published', { wheel: true }));
    // Same name and version, other bytes: what a Dockerfile that ignores INDEX_URL picks up elsewhere.
    impostor = await wheelOf(await buildTinyPackage(root, 'otai-probe', VERSION, 'impostor', { wheel: true }));
    // A pure-Python-tagged wheel carrying an x86-64 binary: installs anywhere, runs nowhere but amd64.
    foreign = await wheelOf(
      await buildTinyPackage(root, 'otai-native', VERSION, 'native', {
        wheel: true,
        files: { '_speedups.so': await import('node:fs/promises').then((fs) => fs.readFile('/usr/bin/true')) },
      }),
    );
    await Promise.all([serve(index, published), serve(otherIndex, impostor), serve(index, foreign)]);
  });
  after(async () => {
    await Promise.allSettled([registry?.stop(), index?.stop(), otherIndex?.stop()]);
    await rm(root, { recursive: true, force: true });
  });

  /** A build context holding `dockerfile`, and a job releasing `pkg` from it. */
  async function job(
    dockerfile: string,
    opts: { pkg?: string; wheel?: Wheel; platforms?: string[]; extra?: string; smoke?: string[] } = {},
  ): Promise<{ job: ImageJob; config: TagshipConfig }> {
    const pkg = opts.pkg ?? 'otai-probe';
    const context = join(root, `ctx-${n++}`);
    await mkdir(context, { recursive: true });
    await writeFile(join(context, 'Dockerfile'), dockerfile);
    const config = parseConfig(
      [
        '[[packages]]',
        `name = "${pkg}"`,
        'path = "."',
        '[[variants]]',
        'name = "probe"',
        `packages = ["${pkg}"]`,
        '[index]',
        `simple_url = "${index.simpleUrl}"`,
        '[images]',
        `repository = "${registry.host}/tagship-test/probe${n}"`,
        'builder = "buildah"',
        'insecure = true',
        `platforms = ${JSON.stringify(opts.platforms ?? ['linux/amd64', 'linux/arm64'])}`,
        `smoke = ${JSON.stringify(opts.smoke ?? ['/opt/venv/bin/python', '-c', `import ${pkg.replaceAll('-', '_')}`])}`,
        opts.extra ?? '',
        '[images.build_args]',
        `BASE_IMAGE = "${baseImage}"`,
        `OTHER_INDEX = "${otherIndex.simpleUrl}"`,
      ].join('\n'),
      'test.toml',
    );
    return {
      config,
      job: {
        sourceDir: context,
        config,
        version: VERSION,
        commit: COMMIT,
        variant: config.variants[0]!,
        created: 1_700_000_000,
        metadata: { description: 'probe', licenses: 'MIT' },
        buildahRoot: join(root, 'buildah'),
        expected: () => expected(pkg, opts.wheel ?? published),
        scanCacheDir: join(root, 'scans'),
      },
    };
  }

  function client(config: TagshipConfig): RegistryClient {
    return new RegistryClient(parseImageRepository(config.images.repository), { insecure: true });
  }

  it('builds the seed-shaped Dockerfile for amd64 and arm64, proves each platform holds the published wheel, and keeps SHELL and HEALTHCHECK', async () => {
    const { job: j, config } = await job(SEED_DOCKERFILE);
    const image = await publishVariantImage(j);
    assert.deepEqual(image.platforms, ['linux/amd64', 'linux/arm64']);
    assert.deepEqual(
      image.verified?.map((v) => [v.platform, v.packages.map((p) => `${p.name} ${p.version} ${p.wheel}`)]),
      [
        ['linux/amd64', [`otai-probe ${VERSION} ${published.filename}`]],
        ['linux/arm64', [`otai-probe ${VERSION} ${published.filename}`]],
      ],
    );
    assert.deepEqual(image.tags, [`${config.images.repository}:${VERSION}-probe`, `${config.images.repository}:probe-latest`]);
    const index = await client(config).getManifest(`${VERSION}-probe`);
    assert.equal(index?.digest, image.digest);
    for (const entry of index.json.manifests!) {
      const manifest = await client(config).getManifest(entry.digest);
      const res = await fetch(`http://${registry.host}/v2/${parseImageRepository(config.images.repository).repository}/blobs/${manifest!.json.config!.digest}`);
      const imageConfig = (await res.json()) as { architecture: string; config: { Healthcheck?: { Test: string[] }; Labels: Record<string, string> } };
      assert.equal(imageConfig.architecture, entry.platform!.architecture);
      assert.deepEqual(imageConfig.config.Healthcheck?.Test, ['CMD', '/opt/venv/bin/python', '-c', 'import otai_probe'], 'docker format keeps HEALTHCHECK');
      assert.equal(imageConfig.config.Labels['org.opencontainers.image.licenses'], 'MIT');
      assert.equal(imageConfig.config.Labels['org.opencontainers.image.version'], VERSION);
    }
  });

  it('refuses an image whose Dockerfile installed the same name and version from another index', async () => {
    const dockerfile = SEED_DOCKERFILE.replace('ARG INDEX_URL', 'ARG INDEX_URL\nARG OTHER_INDEX').replace(
      '--index-url "$INDEX_URL"',
      '--index-url "$OTHER_INDEX"',
    );
    const { job: j, config } = await job(dockerfile);
    await assert.rejects(
      publishVariantImage(j),
      isFailure(
        'ImageContentMismatch',
        true,
        /linux\/amd64: otai-probe 1\.0\.0 installed, but its files are not the published wheel's: was it installed from another index\?[\s\S]*linux\/arm64: otai-probe 1\.0\.0 installed, but its files are not the published wheel's/,
      ),
    );
    assert.equal(await client(config).getManifest('probe-latest'), undefined, 'no moving tag points at an unproven image');
  });

  it('refuses a wheel whose compiled code is of another architecture, naming the platform and the file', async () => {
    const { job: j } = await job(SEED_DOCKERFILE, { pkg: 'otai-native', wheel: foreign, smoke: ['/opt/venv/bin/python', '-c', 'import otai_native'] });
    await assert.rejects(publishVariantImage(j), (err: unknown) => {
      isFailure('ImageContentMismatch', true, /linux\/arm64: .*_speedups\.so.*x86-64/)(err);
      assert.doesNotMatch((err as Error).message, /linux\/amd64:/, 'the amd64 image is right');
      return true;
    });
  });

  it("stops a failing install loop under SHELL -eo pipefail and reports the RUN step's last lines, without retries", async () => {
    // Without -e the loop's status would be the last install's, and the missing package would go unnoticed.
    const dockerfile = SEED_DOCKERFILE.replace('for p in $PACKAGES;', 'for p in otai-does-not-exist $PACKAGES;');
    const { job: j, config } = await job(dockerfile, { platforms: ['linux/amd64'] });
    await assert.rejects(
      publishVariantImage(j),
      isFailure('ImageRunFailed', true, /failed twice with the same output; not retried\n[\s\S]*otai-does-not-exist/),
    );
    assert.equal(await client(config).getManifest(`${VERSION}-probe`), undefined, 'nothing was pushed');
  });

  it("shows a failing smoke command's output, pushes nothing and does not retry", async () => {
    const { job: j, config } = await job(SEED_DOCKERFILE, { smoke: ['/opt/venv/bin/python', '-c', 'import sys; print("smoke says no"); sys.exit(4)'] });
    await assert.rejects(publishVariantImage(j), isFailure('ImageSmokeFailed', true, /^smoke test failed on linux\/amd64 \(exit 4\)[\s\S]*smoke says no/));
    assert.equal(await client(config).getManifest(`${VERSION}-probe`), undefined);
  });

  it('sends a Dockerfile that does not parse, or copies a missing file, to the operator at once', async () => {
    const bad = await job(`ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\nRUNN echo hi\n`, { platforms: ['linux/amd64'] });
    await assert.rejects(publishVariantImage(bad.job), isFailure('DockerfileInvalid', true, /does not parse; not retried\n[\s\S]*RUNN/));
    const missing = await job(`ARG BASE_IMAGE\nFROM \${BASE_IMAGE}\nCOPY requirements-missing.txt /app/\n`, { platforms: ['linux/amd64'] });
    await assert.rejects(
      publishVariantImage(missing.job),
      isFailure('DockerfileMissingFile', true, /not in the build context; not retried\n[\s\S]*requirements-missing\.txt/),
    );
  });

  it("retries when the base image's registry cannot be reached", async () => {
    const { job: j } = await job(SEED_DOCKERFILE.replace('FROM ${BASE_IMAGE}', 'FROM 127.0.0.1:9/nowhere/python:3'), { platforms: ['linux/amd64'] });
    await assert.rejects(
      publishVariantImage({ ...j, config: { ...j.config, images: { ...j.config.images, insecure_registries: ['127.0.0.1:9'] } } }),
      isFailure('ImageBuildFailed', false, /connection refused/i),
    );
  });
});
