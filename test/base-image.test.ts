// The stack's Python base image, for real: built from Debian packages (or taken from the user's
// cache), copied into a real registry, read back as a two-platform index, and then run, each
// platform's python3 and uv under chroot isolation, the foreign one through qemu's binfmt handler.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureBaseImage, type BaseImage } from '../src/dev/stack/base-image';
import { startRegistry, type LocalRegistry } from '../src/dev/stack/registry';
import { tools } from '../activities/lib/tools';

const MARKER = 'tagship-complete.json';

describe('base image', () => {
  let dir: string;
  let registry: LocalRegistry;
  let image: BaseImage;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tagship-base-image-'));
    registry = await startRegistry({ dataDir: join(dir, 'registry') });
    image = await ensureBaseImage({ registryHost: registry.host, log: (l) => process.stderr.write(`${l}\n`) });
  });

  after(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is a two-platform index in the registry, with the cached digest', async () => {
    assert.equal(image.ref, `${registry.host}/tagship/python:3.11-bookworm`);
    assert.deepEqual(image.platforms, ['linux/amd64', 'linux/arm64']);
    const res = await fetch(`http://${registry.host}/v2/tagship/python/manifests/3.11-bookworm`, {
      headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), image.digest);
    const index = (await res.json()) as { mediaType?: string; manifests: { platform: { os: string; architecture: string } }[] };
    assert.equal(index.mediaType, 'application/vnd.oci.image.index.v1+json');
    const platforms = index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort();
    assert.deepEqual(platforms, ['linux/amd64', 'linux/arm64']);
  });

  for (const [platform, machine] of [
    ['linux/amd64', 'x86_64'],
    ['linux/arm64', 'aarch64'],
  ] as const) {
    it(`runs python3 and uv on ${platform}`, async () => {
      const storage = await mkdtemp(join(dir, 'buildah-'));
      const global = ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'overlay'];
      const buildah = tools.buildah();
      const from = await execa(buildah, [...global, 'from', '--quiet', '--tls-verify=false', '--platform', platform, image.ref]);
      const ctr = from.stdout.trim().split('\n').pop()!;
      try {
        const py = await execa(buildah, [
          ...global,
          'run',
          '--isolation',
          'chroot',
          ctr,
          '--',
          'python3',
          '-c',
          'import platform, sys; print(platform.machine(), sys.version_info[:2])',
        ]);
        assert.equal(py.stdout.trim(), `${machine} (3, 11)`);
        const uv = await execa(buildah, [...global, 'run', '--isolation', 'chroot', ctr, '--', 'uv', '--version']);
        assert.match(uv.stdout, /^uv \d+\.\d+\.\d+/);
        // What maintainer scripts would have made (users, the CA bundle), merged /usr, venv and pip.
        const script =
          'id -un nobody && test -s /etc/ssl/certs/ca-certificates.crt && test -L /bin && uvx --version && python3 -m venv --without-pip /tmp/v && python3 -m pip --version';
        const extras = await execa(buildah, [...global, 'run', '--isolation', 'chroot', ctr, '--', 'sh', '-c', script]);
        assert.match(extras.stdout, /^nobody\nuvx \d+.*\npip \d+/s);
      } finally {
        await execa(buildah, [...global, 'rm', ctr], { reject: false });
        await rm(storage, { recursive: true, force: true });
      }
    });
  }

  it('comes from the cache the second time, without rebuilding', async () => {
    const markerFile = join(image.imageDir, MARKER);
    const before = await stat(markerFile);
    const again = await ensureBaseImage({ registryHost: registry.host });
    assert.equal(again.built, false);
    assert.equal(again.digest, image.digest);
    assert.equal(again.imageDir, image.imageDir);
    assert.equal((await stat(markerFile)).mtimeMs, before.mtimeMs);
  });
});
