// Distribution comparison on archives made with tar-stream: layouts no build backend writes
// (symlinks, PAX-only differences, other owners and order), and how differences are described.
// The comparison of real uv builds is in test/dist-diff.test.ts.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import tar from 'tar-stream';
import { compareDistributions, describeDifferences } from '../../activities/lib/dist-diff';

const SDIST = 'otai_probe-1.0.0.tar.gz';

/** tar-stream writes a PAX header for an entry that has `pax` records. */
type EntryHeader = Partial<tar.Header> & { name: string; pax?: Record<string, string> };

async function tarGz(path: string, entries: readonly [EntryHeader, string?][], gzipLevel = 6): Promise<string> {
  const pack = tar.pack();
  for (const [header, content] of entries) pack.entry(header, content ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  await writeFile(path, zlib.gzipSync(Buffer.concat(chunks), { level: gzipLevel }));
  return path;
}

describe('distributions compared by content (hand-made archives)', () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-dist-diff-unit-'));
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('ignores PAX times, owners, order and compression; sees symlink targets and kinds', async () => {
    const dir = join(root, 'synthetic');
    await mkdir(join(dir, 'a'), { recursive: true });
    await mkdir(join(dir, 'b'), { recursive: true });
    const base = { uid: 0, gid: 0, uname: 'root', gname: 'root' };
    const a = await tarGz(join(dir, 'a', SDIST), [
      [{ ...base, name: 'p-1/', type: 'directory', mode: 0o755, mtime: new Date(1_000_000) }],
      [{ ...base, name: 'p-1/PKG-INFO', mode: 0o644, mtime: new Date(1_000_000) }, 'Name: p\n'],
      [{ ...base, name: 'p-1/link', type: 'symlink', linkname: 'PKG-INFO', mode: 0o777 }],
      [{ ...base, name: 'p-1/tool', mode: 0o755 }, '#!/bin/sh\n'],
      [{ ...base, name: 'p-1/become-dir', mode: 0o644 }, 'x'],
    ]);
    const same = await tarGz(
      join(dir, 'b', SDIST),
      [
        // PAX times as setuptools writes them, no directory entry, other owners, other order.
        [
          { uid: 1000, gid: 1000, uname: 'builder', gname: 'staff', name: './p-1/tool', mode: 0o700, mtime: new Date(), pax: { mtime: '1795708815.8133137' } },
          '#!/bin/sh\n',
        ],
        [{ uid: 1000, gid: 1000, name: 'p-1/link', type: 'symlink', linkname: 'PKG-INFO', mode: 0o755 }],
        [
          { uid: 1000, gid: 1000, name: 'p-1/PKG-INFO', mode: 0o600, mtime: new Date(), pax: { mtime: '1795708818.793357', atime: '1795708818.1' } },
          'Name: p\n',
        ],
        [{ uid: 1000, gid: 1000, name: 'p-1/become-dir', mode: 0o664 }, 'x'],
      ],
      9,
    );
    assert.deepEqual(await compareDistributions(a, same), []);
    await rm(same);
    const other = await tarGz(join(dir, 'b', SDIST), [
      [{ ...base, name: 'p-1/PKG-INFO', mode: 0o644 }, 'Name: p\nVersion: 2\n'],
      [{ ...base, name: 'p-1/link', type: 'symlink', linkname: 'tool' }],
      [{ ...base, name: 'p-1/tool', mode: 0o644 }, '#!/bin/sh\n'],
      [{ ...base, name: 'p-1/become-dir/', type: 'directory', mode: 0o755 }],
    ]);
    assert.deepEqual(await compareDistributions(a, other), [
      { member: 'p-1/PKG-INFO', change: 'content' },
      { member: 'p-1/become-dir', change: 'type' },
      { member: 'p-1/link', change: 'type' },
      { member: 'p-1/tool', change: 'mode' },
    ]);
    assert.equal(
      describeDifferences(SDIST, await compareDistributions(a, other), 3),
      `${SDIST}: content of p-1/PKG-INFO, type of p-1/become-dir, type of p-1/link (and 1 more)`,
    );
  });

  it('describes an empty comparison and quotes names that would break the line', () => {
    assert.equal(describeDifferences(SDIST, []), `${SDIST}: no differences`);
    assert.equal(describeDifferences(SDIST, [{ member: 'p-1/a,b', change: 'removed' }]), `${SDIST}: removed "p-1/a,b"`);
  });
});
