// `tagship versions check|set` through the real executable, on copies of the example monorepo.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { exampleCopier, PYPROJECT_FILES } from './support/example-copies';

const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));
const FILES = PYPROJECT_FILES;

let root: string;
const { copy, snapshot } = exampleCopier(() => root);

// The working directory is the temp root so that nothing falls back to this repository's files.
const cli = (args: string[]) => execa('node', [BIN, ...args], { reject: false, cwd: root, stdin: 'ignore' });

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tagship-versions-cli-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('tagship versions', () => {
  it("check exits 1 with the seed's message, set fixes it, check then exits 0", async () => {
    const dir = await copy();
    const bad = await cli(['versions', 'check', '--repo', dir, '--tag', 'v1.0.18']);
    assert.equal(bad.exitCode, 1);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, "ERROR: Tag version (1.0.18) doesn't match package version (1.0.17)");

    const set = await cli(['versions', 'set', '1.0.18', '--repo', dir]);
    assert.equal(set.exitCode, 0, set.stderr);
    assert.equal(
      set.stdout,
      [
        'pyproject.toml: 1.0.17 -> 1.0.18',
        'packages/otai_hf_local/pyproject.toml: 1.0.17 -> 1.0.18',
        'packages/otai_otobo_znuny/pyproject.toml: 1.0.17 -> 1.0.18',
      ].join('\n'),
    );

    const good = await cli(['versions', 'check', '--repo', dir, '--tag', 'v1.0.18']);
    assert.equal(good.exitCode, 0, good.stderr);
    assert.equal(good.stderr, '');
    assert.match(good.stdout, /^OK: 3 packages at version 1\.0\.18/);
    assert.match(good.stdout, /\n {2}otai-otobo-znuny: 1\.0\.18 \(packages\/otai_otobo_znuny\/pyproject\.toml\)$/);
  });

  it("check lists the packages under the seed's message when versions differ", async () => {
    const dir = await copy();
    const file = join(dir, FILES[2]!);
    await writeFile(file, (await readFile(file, 'utf8')).replace('version = "1.0.17"', 'version = "1.0.18"'));
    const res = await cli(['versions', 'check', '--repo', dir]);
    assert.equal(res.exitCode, 1);
    const lines = res.stderr.split('\n');
    assert.equal(lines[0], 'ERROR: All package versions must be identical!');
    assert.ok(lines.includes('  otai-otobo-znuny: 1.0.18 (packages/otai_otobo_znuny/pyproject.toml)'));
  });

  it('a repository without tagship.toml uses the seed defaults', async () => {
    const dir = await copy();
    await rm(join(dir, 'tagship.toml'));
    const res = await cli(['versions', 'check', '--repo', dir, '--tag', 'v1.0.17']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /^OK: 3 packages at version 1\.0\.17/);
  });

  it('set rejects a bad version with exit 1 and changes no file', async () => {
    const dir = await copy();
    const beforeFiles = await snapshot(dir);
    const res = await cli(['versions', 'set', '1.0.18-beta', '--repo', dir]);
    assert.equal(res.exitCode, 1);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr, 'invalid version "1.0.18-beta": expected X.Y.Z (PEP 440, e.g. 1.0.18)');
    assert.deepEqual(await snapshot(dir), beforeFiles);
  });

  it('check and set name a missing pyproject.toml and its package', async () => {
    const dir = await copy();
    await rm(join(dir, FILES[1]!));
    for (const args of [['check'], ['set', '1.0.18']]) {
      const res = await cli(['versions', ...args, '--repo', dir]);
      assert.equal(res.exitCode, 1, args.join(' '));
      assert.match(res.stderr, /^ERROR: packages\/otai_hf_local\/pyproject\.toml not found \(package otai-hf-local/);
    }
    assert.match(await readFile(join(dir, FILES[0]!), 'utf8'), /^version = "1\.0\.17"$/m);
  });

  it('reports a broken tagship.toml naming the file and key', async () => {
    const dir = await copy();
    await writeFile(join(dir, 'tagship.toml'), '[images]\nplatforms = ["linux"]\n');
    const res = await cli(['versions', 'check', '--repo', dir]);
    assert.equal(res.exitCode, 1);
    assert.match(res.stderr, /^tagship: .*tagship\.toml: invalid configuration:\n {2}images\.platforms\[0\]: must be a platform/);
  });

  it('--config names the configuration explicitly and must exist', async () => {
    const dir = await copy();
    const cfg = join(dir, "..", `only-core-${dir.split("-").at(-1)}.toml`);
    await writeFile(cfg, '[[packages]]\nname = "open-ticket-ai"\npath = "."\n\n[[variants]]\nname = "core"\npackages = ["open-ticket-ai"]\n');
    const res = await cli(['versions', 'check', '--repo', dir, '--config', cfg]);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /^OK: 1 packages at version 1\.0\.17/);
    const missing = await cli(['versions', 'check', '--repo', dir, '--config', join(root, 'nope.toml')]);
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /nope\.toml: configuration file not found/);
  });
});
