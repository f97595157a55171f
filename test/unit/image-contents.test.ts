// The image-contents layer view on hand-made tarballs (tar-stream): whiteouts, opaque directories,
// later layers overriding earlier ones, links, digests and compression. Images built and read back
// from a real registry are in test/image-contents.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { mergeLayers, scanLayer, UnsupportedLayerError, type LayerScan } from '../../activities/lib/image-contents';
import { RegistryError } from '../../activities/lib/registry-client';

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; body?: string | Buffer; linkname?: string };

async function tarball(entries: readonly Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const done = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, ...(e.linkname ? { linkname: e.linkname } : {}) };
      if (type === 'file') pack.entry(header, e.body ?? '', (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  return done;
}

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const digestOf = (b: Buffer) => `sha256:${sha(b)}`;

async function scan(bytes: Buffer, mediaType = 'application/vnd.oci.image.layer.v1.tar'): Promise<LayerScan> {
  return scanLayer(Readable.from([bytes]), mediaType, { digest: digestOf(bytes) });
}

describe('layer view', () => {
  const SP = 'usr/lib/python3.12/site-packages';
  let elf: Buffer;
  before(async () => {
    elf = await readFile('/usr/bin/true');
  });

  it('applies whiteouts, opaque directories, later layers and links in order', async () => {
    const lower = zlib.gzipSync(
      await tarball([
        { name: './usr/', type: 'directory' },
        { name: `./${SP}/pkg/`, type: 'directory' },
        { name: `./${SP}/pkg/a.py`, body: 'a' },
        { name: `./${SP}/pkg/b.py`, body: 'b-old' },
        { name: `./${SP}/pkg/_fast.so`, body: elf },
        { name: `./${SP}/gone/x.py`, body: 'x' },
        { name: `./${SP}/opaque/old.py`, body: 'old' },
        { name: `./${SP}/linked/z.py`, body: 'z' },
        { name: `./${SP}/pkg-1.0.dist-info/METADATA`, body: 'Metadata-Version: 2.4\nName: Pkg\nVersion: 1.0\n\nName: not-a-header\n' },
        { name: './usr/lib/python3.12/os.py', body: 'not under site-packages' },
      ]),
    );
    const upper = await tarball([
      { name: `${SP}/pkg/.wh.a.py` },
      { name: `${SP}/.wh.gone` },
      { name: `${SP}/opaque/.wh..wh..opq` },
      { name: `${SP}/opaque/new.py`, body: 'new' },
      { name: `${SP}/pkg/b.py`, body: 'b-new' },
      // A directory replaced by a symlink takes its files with it.
      { name: `${SP}/linked`, type: 'symlink', linkname: 'pkg' },
      // Installers hard-link from their cache; the cache entry comes first in the tar.
      { name: 'root/.cache/uv/c.py', body: 'c' },
      { name: `${SP}/pkg/c.py`, type: 'link', linkname: 'root/.cache/uv/c.py' },
    ]);
    const scans = [await scan(lower, 'application/vnd.docker.image.rootfs.diff.tar.gzip'), await scan(upper)];
    assert.deepEqual(scans[0]!.files[`${SP}/pkg-1.0.dist-info/METADATA`]!.metadata, { name: 'Pkg', version: '1.0' });
    assert.deepEqual(scans[0]!.files[`${SP}/pkg/_fast.so`]!.elf, [62, 1]);
    assert.equal(scans[0]!.files['usr/lib/python3.12/os.py'], undefined, 'only site-packages files are kept');

    const view = mergeLayers(scans);
    const files = Object.fromEntries(
      [...view].map(([k, n]) => [k.slice(SP.length + 1), n.kind === 'file' ? n.file.sha256 : `-> ${n.kind === 'symlink' ? n.target : '?'}`]),
    );
    assert.deepEqual(files, {
      'pkg/b.py': sha('b-new'),
      'pkg/c.py': sha('c'),
      'pkg/_fast.so': sha(elf),
      'opaque/new.py': sha('new'),
      linked: '-> pkg',
      'pkg-1.0.dist-info/METADATA': sha('Metadata-Version: 2.4\nName: Pkg\nVersion: 1.0\n\nName: not-a-header\n'),
    });
  });

  it('a whiteout of a directory above site-packages removes everything below it', async () => {
    const lower = await tarball([{ name: `${SP}/pkg/a.py`, body: 'a' }]);
    const upper = await tarball([{ name: 'usr/lib/.wh.python3.12' }]);
    assert.equal(mergeLayers([await scan(lower), await scan(upper)]).size, 0);
  });

  it('refuses bytes that do not match the layer digest as a retryable registry error', async () => {
    const bytes = await tarball([{ name: `${SP}/pkg/a.py`, body: 'a' }]);
    await assert.rejects(
      scanLayer(Readable.from([bytes]), 'application/vnd.oci.image.layer.v1.tar', { digest: `sha256:${'0'.repeat(64)}` }),
      (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.retryable, true);
        return true;
      },
    );
  });

  it('reads zstd layers where Node can, and says clearly where it cannot', async () => {
    const bytes = await tarball([{ name: `${SP}/pkg/a.py`, body: 'a' }]);
    const compress = (zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync;
    const mediaType = 'application/vnd.oci.image.layer.v1.tar+zstd';
    if (compress) {
      const zstd = compress(bytes);
      assert.equal((await scan(zstd, mediaType)).files[`${SP}/pkg/a.py`]?.sha256, sha('a'));
    } else {
      await assert.rejects(scan(bytes, mediaType), (err: unknown) => {
        assert.ok(err instanceof UnsupportedLayerError);
        assert.match(err.message, /zstd-compressed .* Node v\d+\.\d+\.\d+ cannot decompress \(Node ≥ 22\.15 can\)/);
        return true;
      });
    }
  });
});
