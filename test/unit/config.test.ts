import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/schema';
import { loadConfig, MAX_CONFIG_BYTES, MissingConfigError, parseConfig } from '../../src/config/load';
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
    // GitHub takes a token as the user name alone.
    assert.throws(
      () => parseConfig('[repository]\nurl = "https://ghp_secret@github.com/o/r.git"\n', 'f.toml'),
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

  it('loads a file; a missing one is an error naming it and how to create one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tagship-config-'));
    await writeFile(join(dir, 'tagship.toml'), '[images]\nbuilder = "buildah"\n');
    assert.equal((await loadConfig(join(dir, 'tagship.toml'))).images.builder, 'buildah');
    await assert.rejects(
      loadConfig(join(dir, 'none.toml')),
      (err: unknown) =>
        err instanceof MissingConfigError &&
        err.message.startsWith(`${join(dir, 'none.toml')}: configuration file not found.`) &&
        err.message.includes('examples/open-ticket-ai/tagship.toml') &&
        err.message.includes('--config <file>'),
    );
  });

  it('refuses a file over 256 KiB before reading it, naming the file, its size and the limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tagship-config-'));
    const file = join(dir, 'huge.toml');
    // Valid TOML, 3 MB of it: it used to end, 40 s later, in a bare "Failed to start Workflow".
    await writeFile(file, `[images]\nbuilder = "buildah"\n# ${'x'.repeat(3_000_000)}\n`);
    await assert.rejects(loadConfig(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${file}: configuration file is 2930 KiB (3000032 bytes); the limit is 256 KiB`);
      return true;
    });
    assert.equal(MAX_CONFIG_BYTES, 256 * 1024);
    assert.throws(
      () => parseConfig(`# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`, 'text.toml'),
      /^ConfigError: text\.toml: configuration file is 256 KiB \(262147 bytes\); the limit is 256 KiB$/,
    );
  });
});

describe('durations', () => {
  it('must be between 1s and 30d, each key named', () => {
    // "0s" used to be accepted and left the workflow task failing forever (BadScheduleActivityAttributes).
    assert.throws(
      () => parseConfig('[timeouts]\nbuild = "0s"\n', 'f.toml'),
      /^ConfigError: f\.toml: invalid configuration:\n {2}timeouts\.build: "0s" must be between 1s and 30d$/,
    );
    assert.throws(
      () =>
        parseConfig(
          '[timeouts]\nvalidate = "999ms"\npublish = "31d"\nvisible = "0m"\nimage = "721h"\ntoken_wait = "0h"\noperator_wait = "99999999999d"\n',
          'f.toml',
        ),
      (err: Error) => {
        for (const [key, value] of [
          ['validate', '999ms'],
          ['publish', '31d'],
          ['visible', '0m'],
          ['image', '721h'],
          ['token_wait', '0h'],
          ['operator_wait', '99999999999d'],
        ])
          assert.ok(err.message.includes(`timeouts.${key}: "${value}" must be between 1s and 30d`), `${key} in ${err.message}`);
        return true;
      },
    );
    assert.throws(() => parseConfig('[timeouts]\nbuild = "soon"\n', 'f.toml'), /timeouts\.build: "soon" must be a duration like "90s", "10m", "1h" or "7d"/);
    const edges = parseConfig('[timeouts]\nvalidate = "1s"\nbuild = "1000ms"\nimage = "720h"\noperator_wait = "30d"\n', 'f.toml').timeouts;
    assert.deepEqual([edges.validate, edges.build, edges.image, edges.operator_wait], ['1s', '1000ms', '720h', '30d']);
  });

  it('has operator_wait, 7d unless set, also in a snapshot recorded before it existed', () => {
    assert.equal(parseConfig('', 'f.toml').timeouts.operator_wait, '7d');
    assert.equal(parseConfig('[timeouts]\noperator_wait = "2h"\n', 'f.toml').timeouts.operator_wait, '2h');
    const old = { timeouts: { validate: '5m', build: '15m', publish: '10m', visible: '30m', image: '60m', token_wait: '30m' } };
    assert.equal((upgradeSlice(old).timeouts as Record<string, unknown>).operator_wait, '7d');
  });
});

describe('package names', () => {
  const pkgs = (...names: string[]) => names.map((n, i) => `[[packages]]\nname = "${n}"\npath = "p${i}"\n`).join('');

  it('are one package when PEP 503 normalises them alike; the error names both spellings', () => {
    assert.throws(
      () => parseConfig(`${pkgs('open-ticket-ai', 'Open_Ticket.AI')}[[variants]]\nname = "core"\npackages = ["open-ticket-ai"]\n`, 'f.toml'),
      /packages\[1\]\.name: duplicate package "Open_Ticket\.AI": the same project as "open-ticket-ai" \(both normalise to "open-ticket-ai"\)/,
    );
  });

  it('match variant references by normalised name, spelled as [[packages]] spells them', () => {
    const cfg = parseConfig(`${pkgs('open-ticket-ai', 'otai_hf_local')}[[variants]]\nname = "all"\npackages = ["Open_Ticket.AI", "otai-hf-local"]\n`, 'f.toml');
    assert.deepEqual(cfg.variants[0]!.packages, ['open-ticket-ai', 'otai_hf_local']);
    assert.throws(
      () => parseConfig(`${pkgs('open-ticket-ai')}[[variants]]\nname = "core"\npackages = ["Open_Ticket.AI", "open-ticket-ai"]\n`, 'f.toml'),
      /variants\[0\]\.packages\[1\]: "open-ticket-ai" is listed twice \(as "Open_Ticket\.AI" before\)/,
    );
    assert.throws(
      () => parseConfig(`${pkgs('a')}[[variants]]\nname = "x"\npackages = ["a"]\n[[variants]]\nname = "x"\npackages = ["a"]\n`, 'f.toml'),
      /variants\[1\]\.name: duplicate variant "x"/,
    );
  });
});

describe('sizes', () => {
  it('bounds every list and string, naming the key', () => {
    const many = Array.from({ length: 65 }, (_, i) => `pkg-${i}`);
    assert.throws(() => parseConfig(pkgs65(many), 'f.toml'), /^ {2}packages: must have at most 64 packages$/m);
    const variants = Array.from({ length: 65 }, (_, i) => `[[variants]]\nname = "v${i}"\npackages = ["open-ticket-ai"]\n`).join('');
    assert.throws(() => parseConfig(variants, 'f.toml'), /^ {2}variants: must have at most 64 variants$/m);
    const tags = Array.from({ length: 17 }, (_, i) => `"{version}-{variant}-${i}"`).join(', ');
    assert.throws(() => parseConfig(`[images]\ntags = [${tags}]\n`, 'f.toml'), /^ {2}images\.tags: must have at most 16 tags$/m);
    assert.throws(
      () => parseConfig(`[[packages]]\nname = "${'a'.repeat(101)}"\npath = "."\n`, 'f.toml'),
      /^ {2}packages\[0\]\.name: must be at most 100 characters$/m,
    );
    assert.throws(
      () => parseConfig(`[[packages]]\nname = "a"\npath = "${'d/'.repeat(600)}"\n`, 'f.toml'),
      /^ {2}packages\[0\]\.path: must be at most 1024 characters$/m,
    );
    assert.throws(() => parseConfig(`[images]\nsmoke = ["${'x'.repeat(5000)}"]\n`, 'f.toml'), /^ {2}images\.smoke\[0\]: must be at most 4096 characters$/m);
    assert.throws(
      () => parseConfig(`[index]\nsimple_url = "https://x/${'a'.repeat(3000)}"\n`, 'f.toml'),
      /^ {2}index\.simple_url: must be at most 2048 characters$/m,
    );
  });

  function pkgs65(names: string[]): string {
    return names.map((n) => `[[packages]]\nname = "${n}"\npath = "."\n`).join('') + '[[variants]]\nname = "core"\npackages = ["pkg-0"]\n';
  }
});

describe('repository URL', () => {
  const url = (u: string) => parseConfig(`[repository]\nurl = ${JSON.stringify(u)}\n`, 'f.toml').repository.url;
  const FORMS = 'use https://host/path, ssh://[user@]host[:port]/path, user@host:path (scp-like), file:///path or an absolute local path';

  it('accepts https, ssh, scp-like, file:// and absolute paths', () => {
    for (const ok of [
      'https://github.com/o/r.git',
      'ssh://git@github.com/o/r.git',
      'ssh://git@[::1]:2222/o/r.git',
      'git@github.com:o/r.git',
      'file:///srv/git/r.git',
      '/srv/git/r.git',
    ])
      assert.equal(url(ok), ok);
  });

  it('refuses transports that run commands or never end, and what git or ssh would read as an option', () => {
    // fd::17 used to pass and hang git past the release's end.
    const refused: [string, string][] = [
      ['fd::17', `"fd::17" uses git's fd:: transport, which runs a command or reads a file descriptor; ${FORMS}`],
      ['ext::sh -c touch% /tmp/pwned', "uses git's ext:: transport"],
      ['-uhelp', 'starts with "-", which git would read as an option'],
      ['ssh://-oProxyCommand=touch/r', 'has a host ssh could read as an option'],
      ['git@-oProxyCommand=x:r', 'has a user or host ssh could read as an option'],
      ['git://example.com/r.git', 'uses the git:// transport'],
      ['http://example.com/r.git', 'uses the http:// transport'],
      ['file://host/r.git', 'is not a file:/// URL of a local path'],
      ['/srv/git/r.git\n--upload-pack=x', 'contains whitespace or a control character'],
      ['/srv/../etc', 'is not a normalised absolute path'],
      ['relative/dir', 'is not a URL git may fetch from'],
    ];
    for (const [bad, why] of refused) {
      assert.throws(
        () => url(bad),
        (err: Error) => err.message.includes(`repository.url: ${JSON.stringify(bad)} `) && err.message.includes(why) && err.message.endsWith(FORMS),
        bad,
      );
    }
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
