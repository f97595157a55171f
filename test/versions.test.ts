// The seed's version rules on copies of the example monorepo, through the library and the CLI.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { parseConfig } from '../src/config';
import { checkVersions, setVersions } from '../src/versions';

const EXAMPLE = fileURLToPath(new URL('../examples/open-ticket-ai', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));
const FILES = ['pyproject.toml', 'packages/otai_hf_local/pyproject.toml', 'packages/otai_otobo_znuny/pyproject.toml'];
const config = parseConfig('', 'defaults');

let root: string;
let n = 0;
async function copy(): Promise<string> {
  const dir = join(root, `repo-${n++}`);
  await cp(EXAMPLE, dir, { recursive: true });
  return dir;
}

async function snapshot(dir: string): Promise<string[]> {
  return Promise.all(FILES.map((f) => readFile(join(dir, f), 'utf8')));
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tagship-versions-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('checkVersions', () => {
  it('passes when all packages share the tag\'s version', async () => {
    const result = await checkVersions({ repoDir: await copy(), config, tag: 'v1.0.17' });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.packages.map((p) => [p.name, p.version]), [
      ['open-ticket-ai', '1.0.17'],
      ['otai-hf-local', '1.0.17'],
      ['otai-otobo-znuny', '1.0.17'],
    ]);
  });

  it('gives the seed\'s message when versions differ, listing each package', async () => {
    const dir = await copy();
    const file = join(dir, FILES[1]!);
    await writeFile(file, (await readFile(file, 'utf8')).replace('version = "1.0.17"', 'version = "1.0.16"'));
    const result = await checkVersions({ repoDir: dir, config });
    assert.equal(result.ok, false);
    const lines = result.errors[0]!.split('\n');
    assert.equal(lines[0], 'ERROR: All package versions must be identical!');
    assert.ok(lines.includes('  otai-hf-local: 1.0.16 (packages/otai_hf_local/pyproject.toml)'));
  });

  it('gives the seed\'s message when the tag names another version', async () => {
    const result = await checkVersions({ repoDir: await copy(), config, tag: 'v1.0.18' });
    assert.deepEqual(result.errors, ["ERROR: Tag version (1.0.18) doesn't match package version (1.0.17)"]);
  });

  it('rejects a tag that is not v*.*.*', async () => {
    for (const tag of ['1.0.17', 'v1.0', 'release-1.0.17', 'v1.0.17;rm -rf /']) {
      const result = await checkVersions({ repoDir: await copy(), config, tag });
      assert.deepEqual(result.errors, [`ERROR: Tag '${tag}' does not match v*.*.* (e.g. v1.0.18)`]);
    }
  });

  it('names a missing pyproject.toml and its package', async () => {
    const dir = await copy();
    await rm(join(dir, FILES[2]!));
    const result = await checkVersions({ repoDir: dir, config });
    assert.equal(result.ok, false);
    assert.match(result.errors[0]!, /packages\/otai_otobo_znuny\/pyproject\.toml not found \(package otai-otobo-znuny/);
  });
});

describe('setVersions', () => {
  it('changes exactly the version line of each pyproject.toml', async () => {
    const dir = await copy();
    const beforeFiles = await snapshot(dir);
    const changes = await setVersions({ repoDir: dir, config, version: '1.0.18' });
    assert.deepEqual(changes.map((c) => [c.file, c.from, c.to]), FILES.map((f) => [f, '1.0.17', '1.0.18']));
    const afterFiles = await snapshot(dir);
    afterFiles.forEach((text, i) => assert.equal(text, beforeFiles[i]!.replace(/^version = "1\.0\.17"$/m, 'version = "1.0.18"')));
  });

  it('rejects bad versions and leaves every file untouched', async () => {
    const dir = await copy();
    const beforeFiles = await snapshot(dir);
    for (const bad of ['1.0', 'v1.0.18', '1.0.18-beta', '', '1.0.18 ']) {
      await assert.rejects(setVersions({ repoDir: dir, config, version: bad }), new RegExp(`invalid version "${bad.replace('.', '\\.')}"`));
    }
    assert.deepEqual(await snapshot(dir), beforeFiles);
  });

  it('changes nothing when one package cannot be set', async () => {
    const dir = await copy();
    await writeFile(join(dir, FILES[2]!), '[project]\nname = "otai-otobo-znuny"\ndynamic = ["version"]\n');
    const first = await readFile(join(dir, FILES[0]!), 'utf8');
    await assert.rejects(setVersions({ repoDir: dir, config, version: '1.0.18' }), /version is dynamic/);
    assert.equal(await readFile(join(dir, FILES[0]!), 'utf8'), first);
  });
});

describe('tagship versions (CLI)', () => {
  const cli = (args: string[]) => execa('node', [BIN, ...args], { reject: false });

  it('check exits 1 with the seed\'s message, set fixes it, check then exits 0', async () => {
    const dir = await copy();
    const bad = await cli(['versions', 'check', '--repo', dir, '--tag', 'v1.0.18']);
    assert.equal(bad.exitCode, 1);
    assert.match(bad.stderr, /ERROR: Tag version \(1\.0\.18\) doesn't match package version \(1\.0\.17\)/);
    const set = await cli(['versions', 'set', '1.0.18', '--repo', dir]);
    assert.equal(set.exitCode, 0, set.stderr);
    assert.match(set.stdout, /packages\/otai_hf_local\/pyproject\.toml: 1\.0\.17 -> 1\.0\.18/);
    const good = await cli(['versions', 'check', '--repo', dir, '--tag', 'v1.0.18']);
    assert.equal(good.exitCode, 0, good.stderr);
    assert.match(good.stdout, /OK: 3 packages at version 1\.0\.18/);
  });

  it('set rejects a bad version with exit 1 and a clear message', async () => {
    const res = await cli(['versions', 'set', '1.0.18-beta', '--repo', await copy()]);
    assert.equal(res.exitCode, 1);
    assert.match(res.stderr, /invalid version "1\.0\.18-beta": expected X\.Y\.Z/);
  });

  it('reports a broken tagship.toml naming the file and key', async () => {
    const dir = await copy();
    await writeFile(join(dir, 'tagship.toml'), '[images]\nplatforms = ["linux"]\n');
    const res = await cli(['versions', 'check', '--repo', dir]);
    assert.equal(res.exitCode, 1);
    assert.match(res.stderr, /tagship\.toml: invalid configuration:\n {2}images\.platforms\[0\]: must be a platform/);
  });
});
