// Distribution comparison on real builds: setuptools packages built by the real uv, twice from one
// source with one SOURCE_DATE_EPOCH, which is exactly the situation of a restarted release. Archive
// layouts no backend writes (symlinks, PAX-only differences) are in test/unit/dist-diff.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { compareDistributions, describeDifferences } from '../activities/lib/dist-diff';
import { tools } from '../activities/lib/tools';

const NAME = 'otai-probe';
const SDIST = 'otai_probe-1.0.0.tar.gz';
const WHEEL = 'otai_probe-1.0.0-py3-none-any.whl';
const INIT = 'src/otai_probe/__init__.py';
/** The commit time a release would pass; what the build step sets. */
const EPOCH = '1700000000';

interface Built {
  readonly sdist: string;
  readonly wheel: string;
}

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

async function writePackage(dir: string, files: Record<string, string>): Promise<void> {
  const all: Record<string, string> = {
    'pyproject.toml': `[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "${NAME}"\nversion = "1.0.0"\n`,
    [INIT]: 'VALUE = 1\n',
    ...files,
  };
  for (const [path, content] of Object.entries(all)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

async function build(pkg: string, out: string, epoch = EPOCH): Promise<Built> {
  await execa(tools.uv(), ['build', '--sdist', '--wheel', '--no-progress', '--out-dir', out, pkg], { env: { SOURCE_DATE_EPOCH: epoch, NO_COLOR: '1' } });
  return { sdist: join(out, SDIST), wheel: join(out, WHEEL) };
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => assert.fail('expected the comparison to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
  return err.message;
}

describe('distributions compared by content', () => {
  let root: string;
  let first: Built;
  let again: Built;
  let changed: Built;
  let added: Built;
  let executable: Built;
  let otherEpoch: Built;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-dist-diff-'));
    const pkg = join(root, 'pkg');
    await writePackage(pkg, {});
    first = await build(pkg, join(root, 'first'));
    // setuptools stamps the gzip header with whole seconds: more than one apart, the clocks differ.
    await sleep(1_100);
    again = await build(pkg, join(root, 'again'));
    await writePackage(join(root, 'changed'), { [INIT]: 'VALUE = 2\n' });
    await writePackage(join(root, 'added'), { 'src/otai_probe/extra.py': 'EXTRA = True\n' });
    await writePackage(join(root, 'executable'), {});
    await chmod(join(root, 'executable', INIT), 0o755);
    // Two at a time: the machine has two cores and each build is a Python process.
    [changed, added] = await Promise.all([build(join(root, 'changed'), join(root, 'changed-dist')), build(join(root, 'added'), join(root, 'added-dist'))]);
    [executable, otherEpoch] = await Promise.all([
      build(join(root, 'executable'), join(root, 'executable-dist')),
      build(pkg, join(root, 'other-epoch'), String(Number(EPOCH) + 86_400)),
    ]);
  });

  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('two setuptools builds of one source differ in bytes but not in content', async () => {
    assert.notEqual(await sha256(first.sdist), await sha256(again.sdist), 'setuptools sdists are expected to differ byte-wise between builds');
    // Not only the gzip header: the tar inside carries the clock too (PAX mtimes of generated files).
    const [tarA, tarB] = await Promise.all([readFile(first.sdist), readFile(again.sdist)]).then((bufs) => bufs.map((b) => zlib.gunzipSync(b)));
    assert.notDeepEqual(tarA, tarB);
    assert.deepEqual(await compareDistributions(first.sdist, again.sdist), []);
    assert.deepEqual(await compareDistributions(first.wheel, again.wheel), []);
  });

  it('wheels whose zip timestamps differ have the same content', async () => {
    assert.notEqual(await sha256(first.wheel), await sha256(otherEpoch.wheel));
    assert.deepEqual(await compareDistributions(first.wheel, otherEpoch.wheel), []);
  });

  it('names the changed source file in the sdist, and the file and its RECORD line in the wheel', async () => {
    assert.deepEqual(await compareDistributions(first.sdist, changed.sdist), [{ member: `otai_probe-1.0.0/${INIT}`, change: 'content' }]);
    assert.deepEqual(await compareDistributions(first.wheel, changed.wheel), [
      { member: 'otai_probe-1.0.0.dist-info/RECORD', change: 'content' },
      { member: 'otai_probe/__init__.py', change: 'content' },
    ]);
    assert.equal(
      describeDifferences(SDIST, await compareDistributions(first.sdist, changed.sdist)),
      `${SDIST}: content of otai_probe-1.0.0/src/otai_probe/__init__.py`,
    );
  });

  it('an added file is added one way and removed the other, with the manifests that list it', async () => {
    const forward = await compareDistributions(first.sdist, added.sdist);
    assert.deepEqual(forward, [
      { member: 'otai_probe-1.0.0/src/otai_probe.egg-info/SOURCES.txt', change: 'content' },
      { member: 'otai_probe-1.0.0/src/otai_probe/extra.py', change: 'added' },
    ]);
    const backward = await compareDistributions(added.sdist, first.sdist);
    assert.deepEqual(
      backward.find((d) => d.member.endsWith('extra.py')),
      { member: 'otai_probe-1.0.0/src/otai_probe/extra.py', change: 'removed' },
    );
    assert.deepEqual(await compareDistributions(first.wheel, added.wheel), [
      { member: 'otai_probe-1.0.0.dist-info/RECORD', change: 'content' },
      { member: 'otai_probe/extra.py', change: 'added' },
    ]);
    assert.equal(describeDifferences(SDIST, forward, 1), `${SDIST}: content of otai_probe-1.0.0/src/otai_probe.egg-info/SOURCES.txt (and 1 more)`);
  });

  it('a file that became executable is a mode difference', async () => {
    assert.deepEqual(await compareDistributions(first.sdist, executable.sdist), [{ member: `otai_probe-1.0.0/${INIT}`, change: 'mode' }]);
  });

  it('compares stored files under another name when told the distribution file name', async () => {
    const stored = join(root, 'stored', 'ab12');
    await mkdir(dirname(stored), { recursive: true });
    await copyFile(again.sdist, stored);
    assert.deepEqual(await compareDistributions(first.sdist, stored, { filename: SDIST }), []);
  });

  it('refuses what is neither an sdist nor a wheel', async () => {
    const zip = join(root, 'otai_probe-1.0.0.zip');
    await copyFile(first.wheel, zip);
    assert.match(await rejection(compareDistributions(zip, zip)), /otai_probe-1\.0\.0\.zip is neither an sdist \(\.tar\.gz\) nor a wheel \(\.whl\)/);
    assert.match(await rejection(compareDistributions(first.sdist, first.wheel)), /not the same kind of distribution/);
  });

  it('refuses truncated archives, naming the file', async () => {
    const cut = async (path: string, dir: string) => {
      const dest = join(root, dir, path.endsWith('.whl') ? WHEEL : SDIST);
      await mkdir(dirname(dest), { recursive: true });
      await copyFile(path, dest);
      await truncate(dest, Math.floor((await stat(dest)).size / 2));
      return dest;
    };
    const sdist = await cut(first.sdist, 'cut-sdist');
    const message = await rejection(compareDistributions(first.sdist, sdist));
    assert.ok(message.startsWith(`${sdist} is not a readable sdist (.tar.gz): `), message);
    const wheel = await cut(first.wheel, 'cut-wheel');
    const wheelMessage = await rejection(compareDistributions(wheel, first.wheel));
    assert.ok(wheelMessage.startsWith(`${wheel} is not a readable wheel (.whl): `), wheelMessage);
    const garbage = join(root, 'garbage', SDIST);
    await mkdir(dirname(garbage), { recursive: true });
    await writeFile(garbage, zlib.gzipSync(Buffer.from('not a tar archive, just text\n'.repeat(40))));
    assert.match(await rejection(compareDistributions(first.sdist, garbage)), /garbage\/otai_probe-1\.0\.0\.tar\.gz is not a readable sdist/);
  });

  it('a wheel member whose bytes do not match its CRC-32 is refused, not read as other content', async () => {
    const bytes = Buffer.from(await readFile(first.wheel));
    const name = 'otai_probe/__init__.py';
    // The name's last occurrence is in the central directory, whose CRC yauzl trusts without checking.
    const central = bytes.lastIndexOf(name) - 46;
    assert.equal(bytes.readUInt32LE(central), 0x02014b50);
    bytes.writeUInt32LE(bytes.readUInt32LE(central + 16) ^ 1, central + 16);
    const path = join(root, 'damaged', WHEEL);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    assert.equal(
      await rejection(compareDistributions(first.wheel, path)),
      `${path} is not a readable wheel (.whl): member otai_probe/__init__.py fails its CRC-32 check`,
    );
  });
});
