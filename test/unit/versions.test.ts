// The seed's version rules on copies of the example monorepo (shipped at 1.0.17).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, parseConfig } from '../../src/config/load';
import { VersionError, checkVersions, setVersions } from '../../activities/lib/versions';
import { exampleCopier, PYPROJECT_FILES } from '../support/example-copies';

const FILES = PYPROJECT_FILES;
const config = parseConfig('', 'defaults');

let root: string;
const { copy, snapshot } = exampleCopier(() => root);

async function edit(dir: string, file: string, from: string, to: string): Promise<void> {
  const path = join(dir, file);
  const text = await readFile(path, 'utf8');
  assert.ok(text.includes(from), `${file} contains ${from}`);
  await writeFile(path, text.replace(from, to));
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tagship-versions-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('checkVersions', () => {
  it('the example and its tagship.toml describe three packages at 1.0.17', async () => {
    const dir = await copy();
    const result = await checkVersions({ repoDir: dir, config: await loadConfig(join(dir, 'tagship.toml')) });
    assert.deepEqual(result, {
      ok: true,
      errors: [],
      packages: [
        { name: 'open-ticket-ai', file: 'pyproject.toml', version: '1.0.17' },
        { name: 'otai-hf-local', file: 'packages/otai_hf_local/pyproject.toml', version: '1.0.17' },
        { name: 'otai-otobo-znuny', file: 'packages/otai_otobo_znuny/pyproject.toml', version: '1.0.17' },
      ],
      version: '1.0.17',
    });
  });

  it("gives packages whose version comes from the git tag the tag's version, and checks the static ones against it", async () => {
    const dir = await copy();
    await edit(dir, FILES[1]!, 'version = "1.0.17"', 'dynamic = ["version"]\n[tool.hatch.version]\nsource = "vcs"\n[project.x-placeholder]');
    const ok = await checkVersions({ repoDir: dir, config, tag: 'v1.0.17' });
    assert.deepEqual(ok.errors, []);
    assert.equal(ok.version, '1.0.17');
    assert.deepEqual(ok.packages[1], { name: 'otai-hf-local', file: FILES[1], version: undefined, dynamic: { fromTag: true, backend: 'hatch-vcs' } });
    const bad = await checkVersions({ repoDir: dir, config, tag: 'v1.0.18' });
    assert.deepEqual(bad.errors, ["ERROR: Tag version (1.0.18) doesn't match package version (1.0.17)"]);
  });

  it('with only dynamic versions, the tag is the version', async () => {
    const dir = await copy();
    for (const f of FILES) await edit(dir, f, 'version = "1.0.17"', 'dynamic = ["version"]');
    const result = await checkVersions({ repoDir: dir, config, tag: 'v2.0.0' });
    assert.deepEqual(result.errors, []);
    assert.equal(result.version, '2.0.0');
    assert.equal(
      result.packages.every((p) => p.dynamic !== undefined),
      true,
    );
  });

  it("passes with the tag that names the packages' version", async () => {
    const result = await checkVersions({ repoDir: await copy(), config, tag: 'v1.0.17' });
    assert.equal(result.ok, true);
    assert.deepEqual(result.errors, []);
  });

  it("gives the seed's message when versions differ, listing each package", async () => {
    const dir = await copy();
    await edit(dir, FILES[1]!, 'version = "1.0.17"', 'version = "1.0.16"');
    const result = await checkVersions({ repoDir: dir, config, tag: 'v1.0.17' });
    assert.equal(result.ok, false);
    assert.deepEqual(result.errors, [
      [
        'ERROR: All package versions must be identical!',
        '  open-ticket-ai: 1.0.17 (pyproject.toml)',
        '  otai-hf-local: 1.0.16 (packages/otai_hf_local/pyproject.toml)',
        '  otai-otobo-znuny: 1.0.17 (packages/otai_otobo_znuny/pyproject.toml)',
      ].join('\n'),
    ]);
  });

  it("gives the seed's message when the tag names another version", async () => {
    const result = await checkVersions({ repoDir: await copy(), config, tag: 'v1.0.18' });
    assert.equal(result.ok, false);
    assert.deepEqual(result.errors, ["ERROR: Tag version (1.0.18) doesn't match package version (1.0.17)"]);
  });

  it('rejects a tag that is not v*.*.*', async () => {
    const dir = await copy();
    for (const tag of ['1.0.17', 'v1.0', 'v1.0.17-beta', 'release-1.0.17', 'v1.0.17;rm -rf /']) {
      const result = await checkVersions({ repoDir: dir, config, tag });
      assert.deepEqual(result.errors, [`ERROR: Tag '${tag}' does not match v*.*.* (e.g. v1.0.18)`]);
    }
  });

  it('names a missing pyproject.toml and its package', async () => {
    const dir = await copy();
    await rm(join(dir, FILES[2]!));
    const result = await checkVersions({ repoDir: dir, config });
    assert.equal(result.ok, false);
    assert.deepEqual(result.errors, [
      'ERROR: packages/otai_otobo_znuny/pyproject.toml not found (package otai-otobo-znuny, path "packages/otai_otobo_znuny" in tagship.toml)',
    ]);
    assert.deepEqual(
      result.packages.map((p) => p.name),
      ['open-ticket-ai', 'otai-hf-local'],
    );
  });

  it('names both sides when a pyproject.toml is another project than configured', async () => {
    const dir = await copy();
    await edit(dir, FILES[1]!, 'name = "otai-hf-local"', 'name = "otai-something-else"');
    const result = await checkVersions({ repoDir: dir, config });
    assert.deepEqual(result.errors, [
      'ERROR: packages/otai_hf_local/pyproject.toml is project "otai-something-else", but tagship.toml expects "otai-hf-local" at path "packages/otai_hf_local"',
    ]);
  });

  it('compares project names the PEP 503 way', async () => {
    const dir = await copy();
    await edit(dir, FILES[1]!, 'name = "otai-hf-local"', 'name = "OTAI_hf.local"');
    assert.deepEqual((await checkVersions({ repoDir: dir, config })).errors, []);
  });

  it('names a package whose version is not X.Y.Z, and one with both a version and a dynamic one', async () => {
    const dir = await copy();
    await edit(dir, FILES[0]!, 'version = "1.0.17"', 'version = "1.0"');
    await edit(dir, FILES[2]!, 'version = "1.0.17"', 'version = "1.0.17"\ndynamic = ["version"]');
    const result = await checkVersions({ repoDir: dir, config });
    assert.equal(result.ok, false);
    assert.equal(result.errors[0], 'ERROR: pyproject.toml (package open-ticket-ai) has version "1.0", which is not X.Y.Z (PEP 440, e.g. 1.0.18)');
    assert.match(result.errors[1]!, /^ERROR: packages\/otai_otobo_znuny\/pyproject\.toml: \[project\] has both a version and dynamic/);
    assert.match(result.errors[2]!, /^ERROR: All package versions must be identical!\n/);
  });
});

describe('setVersions', () => {
  it('changes exactly the version line of each pyproject.toml, keeping CRLF', async () => {
    const dir = await copy();
    // One file with Windows line endings: the rewrite must keep them.
    const crlfFile = join(dir, FILES[1]!);
    await writeFile(crlfFile, (await readFile(crlfFile, 'utf8')).replace(/\n/g, '\r\n'));
    const beforeFiles = await snapshot(dir);
    const changes = await setVersions({ repoDir: dir, config, version: '1.0.18' });
    assert.deepEqual(
      changes,
      FILES.map((file) => ({ file, from: '1.0.17', to: '1.0.18' })),
    );
    const afterFiles = await snapshot(dir);
    FILES.forEach((file, i) => {
      const a = beforeFiles[i]!.toString('utf8').split('\n');
      const b = afterFiles[i]!.toString('utf8').split('\n');
      assert.equal(b.length, a.length, file);
      const diff = b.flatMap((line, j) => (line === a[j] ? [] : [[a[j], line]]));
      const eol = i === 1 ? '\r' : '';
      assert.deepEqual(diff, [[`version = "1.0.17"${eol}`, `version = "1.0.18"${eol}`]], file);
    });
    assert.deepEqual((await checkVersions({ repoDir: dir, config, tag: 'v1.0.18' })).errors, []);
  });

  it('rejects bad versions and leaves every file byte-identical', async () => {
    const dir = await copy();
    const beforeFiles = await snapshot(dir);
    for (const bad of ['1.0', 'v1.0.18', '1.0.18-beta', '', '1.0.18 ']) {
      await assert.rejects(setVersions({ repoDir: dir, config, version: bad }), (err: unknown) => {
        assert.ok(err instanceof VersionError);
        assert.equal(err.message, `invalid version "${bad}": expected X.Y.Z (PEP 440, e.g. 1.0.18)`);
        return true;
      });
    }
    assert.deepEqual(await snapshot(dir), beforeFiles);
  });

  it('changes nothing when one package cannot be set', async () => {
    const dir = await copy();
    await edit(dir, FILES[2]!, 'version = "1.0.17"', 'version = """1.0.17"""');
    const beforeFiles = await snapshot(dir);
    await assert.rejects(setVersions({ repoDir: dir, config, version: '1.0.18' }), /otai_otobo_znuny\/pyproject\.toml: cannot find the \[project\] version/);
    assert.deepEqual(await snapshot(dir), beforeFiles);
  });

  it('leaves a dynamic version alone and says how it is set', async () => {
    const dir = await copy();
    await edit(dir, FILES[2]!, 'version = "1.0.17"', 'dynamic = ["version"]');
    const dynamicText = await readFile(join(dir, FILES[2]!), 'utf8');
    const changes = await setVersions({ repoDir: dir, config, version: '1.0.18' });
    assert.deepEqual(changes[2], { file: FILES[2], name: 'otai-otobo-znuny', dynamic: { fromTag: false, backend: 'hatchling.build' } });
    assert.equal(await readFile(join(dir, FILES[2]!), 'utf8'), dynamicText);
    assert.deepEqual((await checkVersions({ repoDir: dir, config, tag: 'v1.0.18' })).errors, []);
  });

  it('changes nothing when a configured pyproject.toml is missing', async () => {
    const dir = await copy();
    await rm(join(dir, FILES[2]!));
    const kept = await Promise.all(FILES.slice(0, 2).map((f) => readFile(join(dir, f))));
    await assert.rejects(setVersions({ repoDir: dir, config, version: '1.0.18' }), /pyproject\.toml not found \(package otai-otobo-znuny/);
    assert.deepEqual(await Promise.all(FILES.slice(0, 2).map((f) => readFile(join(dir, f)))), kept);
  });

  it('repairs versions that differ or are not X.Y.Z', async () => {
    const dir = await copy();
    await edit(dir, FILES[0]!, 'version = "1.0.17"', 'version = "1.0"');
    await edit(dir, FILES[1]!, 'version = "1.0.17"', 'version = "1.0.16"');
    const changes = await setVersions({ repoDir: dir, config, version: '1.1.0' });
    assert.deepEqual(
      changes.map((c) => (c.dynamic ? undefined : c.from)),
      ['1.0', '1.0.16', '1.0.17'],
    );
    assert.deepEqual((await checkVersions({ repoDir: dir, config, tag: 'v1.1.0' })).errors, []);
  });
});
