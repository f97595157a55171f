import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/schema';
import { loadConfig, parseConfig } from '../../src/config/load';
import { releaseWorkflowId } from '../../src/contract/workflow-ids';
import { upgradeSlice } from '../../src/config/upgrade';

describe('tagship.toml', () => {
  it('defaults reproduce the seed release', () => {
    const cfg = parseConfig('', 'tagship.toml');
    assert.deepEqual(
      cfg.packages.map((p) => p.name),
      ['open-ticket-ai', 'otai-hf-local', 'otai-otobo-znuny'],
    );
    assert.deepEqual(
      cfg.variants.map((v) => v.name),
      ['core', 'hf_local', 'otobo_znuny', 'all'],
    );
    assert.deepEqual(cfg.variants.find((v) => v.name === 'all')?.packages, ['open-ticket-ai', 'otai-hf-local', 'otai-otobo-znuny']);
    assert.deepEqual(cfg.images.platforms, ['linux/amd64', 'linux/arm64']);
    assert.equal(cfg.images.builder, 'docker');
    assert.equal(cfg.index.upload_url, 'https://upload.pypi.org/legacy/');
    assert.equal(releaseWorkflowId(cfg, '1.0.18'), 'release/Softoft-Orga/open-ticket-ai/v1.0.18');
  });

  it('names the file and the key of a bad value', () => {
    assert.throws(
      () => parseConfig('[images]\nbuilder = "kaniko"\n', '/repo/tagship.toml'),
      (e: Error) => e instanceof ConfigError && e.message.includes('/repo/tagship.toml') && e.message.includes('images.builder'),
    );
    assert.throws(() => parseConfig('[images]\nplatforms = ["linux amd64"]\n', 'f.toml'), /images\.platforms\[0\]: must be a platform/);
    assert.throws(() => parseConfig('[index]\nupload_url = "ftp://x"\n', 'f.toml'), /index\.upload_url: must be an http\(s\) URL/);
    assert.throws(() => parseConfig('[timeouts]\nbuild = "soon"\n', 'f.toml'), /timeouts\.build/);
  });

  it('rejects unknown keys instead of ignoring a typo', () => {
    assert.throws(() => parseConfig('[images]\nplatfroms = ["linux/amd64"]\n', 'f.toml'), /images: Unrecognized key.*platfroms/);
  });

  it('rejects variants naming packages that are not configured, and duplicates', () => {
    const text = '[[packages]]\nname = "a"\npath = "."\n[[variants]]\nname = "x"\npackages = ["a", "b"]\n[[variants]]\nname = "x"\npackages = ["a"]\n';
    assert.throws(
      () => parseConfig(text, 'f.toml'),
      (e: Error) => /variants\[0\]\.packages\[1\]: unknown package "b"/.test(e.message) && /duplicate variant "x"/.test(e.message),
    );
  });

  it('refuses package paths that leave the repository or look like options', () => {
    assert.throws(() => parseConfig('[[packages]]\nname = "a"\npath = "../x"\n', 'f.toml'), /packages\[0\]\.path/);
    assert.throws(() => parseConfig('[[packages]]\nname = "a"\npath = "--help"\n', 'f.toml'), /packages\[0\]\.path/);
  });

  it('refuses a repository URL with credentials in it, which would leak into argv and history', () => {
    assert.throws(
      () => parseConfig('[repository]\nurl = "https://x-access-token:ghp_secret@github.com/o/r.git"\n', 'f.toml'),
      (err: unknown) => err instanceof Error && /repository\.url: must not contain credentials/.test(err.message) && !err.message.includes('ghp_secret'),
    );
    assert.equal(parseConfig('[repository]\nurl = "https://github.com/o/r.git"\n', 'f.toml').repository.url, 'https://github.com/o/r.git');
  });

  it('checks the new sections: retries, schedule and ci', () => {
    assert.throws(() => parseConfig('[retries]\nimage = 0\n', 'f.toml'), /retries\.image/);
    assert.throws(() => parseConfig('[schedule]\nrepublish_latest = "daily"\n', 'f.toml'), /schedule\.republish_latest: must be a 5-field cron expression/);
    assert.throws(() => parseConfig('[ci]\nworkflow = "../evil.yml"\n', 'f.toml'), /ci\.workflow/);
    assert.throws(() => parseConfig('[index]\nauth = "password"\n', 'f.toml'), /index\.auth/);
  });

  it('reports TOML syntax errors with file, line and column', () => {
    assert.throws(() => parseConfig('[images\n', 'bad.toml'), /bad\.toml:1:\d+: invalid TOML/);
  });

  it('loads a file, and treats a missing optional file as defaults', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tagship-config-'));
    await writeFile(join(dir, 'tagship.toml'), '[images]\nbuilder = "buildah"\n');
    assert.equal((await loadConfig(join(dir, 'tagship.toml'))).images.builder, 'buildah');
    assert.equal((await loadConfig(join(dir, 'none.toml'), { optional: true })).packages.length, 3);
    await assert.rejects(loadConfig(join(dir, 'none.toml')), /none\.toml: configuration file not found/);
  });
});

describe('image tag templates', () => {
  it('accepts tag families and refuses templates that cannot work, naming the key', () => {
    const ok = parseConfig('[images]\ntags = ["{version}-{variant}", "{major}.{minor}-{variant}", "{major}-{variant}", "{variant}-latest"]\n', 't.toml');
    assert.equal(ok.images.tags.length, 4);
    assert.throws(() => parseConfig('[images]\ntags = ["{variant}-latest"]\n', 't.toml'), /images\.tags: needs at least one tag with \{version\}/);
    assert.throws(() => parseConfig('[images]\ntags = ["{version}-{variant}", "{verison}"]\n', 't.toml'), /images\.tags\[1\]: unknown placeholder \{verison\}/);
    assert.throws(() => parseConfig('[images]\ntags = ["{version}", "latest"]\n', 't.toml'), /images\.tags\[0\]: must contain \{variant\}: with 4 variants/);
    assert.throws(
      () => parseConfig('[images]\ntags = ["{version}-{variant}", "{major}.{minor}.{patch}-{variant}"]\n', 't.toml'),
      /images\.tags\[1\]: .*never overwrite a release's own tag/,
    );
    assert.throws(() => parseConfig('[images]\ntags = ["-{version}-{variant}"]\n', 't.toml'), /images\.tags\[0\]: must give an image tag/);
    const single = parseConfig(
      '[[variants]]\nname = "app"\npackages = ["open-ticket-ai"]\n[images]\ntags = ["{version}", "{major}.{minor}", "{major}", "latest"]\n',
      't.toml',
    );
    assert.deepEqual(single.images.tags, ['{version}', '{major}.{minor}', '{major}', 'latest']);
  });

  it('fills keys added since a release was recorded with their defaults', () => {
    const old = parseConfig('', 't.toml') as unknown as { images: Record<string, unknown> };
    delete old.images.tags;
    delete old.images.build_args;
    const upgraded = upgradeSlice(old as unknown as ReturnType<typeof parseConfig>);
    assert.deepEqual(upgraded.images.tags, ['{version}-{variant}', '{variant}-latest']);
    assert.deepEqual(upgraded.images.build_args, {});
  });
});
