// The GitHub Release activity against a real git repository and a local server speaking GitHub's
// release routes; the notes' rendering on its own.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import { imagesList, publishGitHubRelease, sha256sums, uploadUrl } from '../../activities/github-release';
import type { GitHubReleaseInput } from '../../src/contract/activities';
import {
  isLatestRelease,
  parseConventional,
  parseGitLog,
  previousReleaseTag,
  renderReleaseNotes,
  type ReleaseCommit,
} from '../../activities/lib/release-notes';
import { parseConfig } from '../../src/config/load';
import type { TagshipConfig } from '../../src/config/schema';
import { tools } from '../../activities/lib/tools';
import type { WorkerSettings } from '../../activities/lib/settings';
import { startGitHubApi, type GitHubApi } from '../support/github-api';

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Tag Ship',
  GIT_AUTHOR_EMAIL: 'tagship@example.invalid',
  GIT_COMMITTER_NAME: 'Tag Ship',
  GIT_COMMITTER_EMAIL: 'tagship@example.invalid',
  GIT_AUTHOR_DATE: '2025-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2025-01-01T00:00:00Z',
};

async function gitIn(dir: string, ...args: string[]): Promise<string> {
  const res = await execa(tools.git(), args, { cwd: dir, env: { ...GIT_ENV, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
  return res.stdout.trim();
}

async function commit(dir: string, file: string, message: string): Promise<string> {
  await writeFile(join(dir, file), `${message}\n${randomBytes(4).toString('hex')}\n`);
  await gitIn(dir, 'add', '--', file);
  await gitIn(dir, 'commit', '--quiet', '-m', message);
  return gitIn(dir, 'rev-parse', 'HEAD');
}

function failureOf(err: unknown): ApplicationFailure {
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${inspect(err)}`);
  return err;
}

const FILES = [
  { filename: 'otai_demo-1.1.0.tar.gz', sha256: 'b'.repeat(64) },
  { filename: 'otai_demo-1.1.0-py3-none-any.whl', sha256: 'a'.repeat(64) },
];
const IMAGES = [
  {
    variant: 'core',
    tags: ['ghcr.io/o/r:1.1.0-core', 'ghcr.io/o/r:core-latest'],
    digest: `sha256:${'1'.repeat(64)}`,
    platforms: [
      { platform: 'linux/arm64', digest: `sha256:${'3'.repeat(64)}` },
      { platform: 'linux/amd64', digest: `sha256:${'2'.repeat(64)}` },
    ],
  },
];

describe('GitHub Release activity', () => {
  // One git repository for every test (read only); each test talks to its own GitHub double, so it
  // sees only the releases it made itself and runs the same alone or after the others.
  let root: string;
  let repoDir: string;
  const token = `ghp_${randomBytes(18).toString('hex')}`;
  const commits: Record<string, string> = {};
  const apis: GitHubApi[] = [];

  /** A GitHub double that knows o/r, the config pointing at it, and the worker's settings. */
  async function github(): Promise<{ api: GitHubApi; config: TagshipConfig; settings: WorkerSettings }> {
    const api = await startGitHubApi({ token, repositories: ['o/r'] });
    apis.push(api);
    const config = parseConfig(`[repository]\nowner = "o"\nname = "r"\nurl = "${repoDir}"\n[github_release]\nenabled = true\napi_url = "${api.url}"\n`, 'test');
    const settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts'), githubToken: token };
    return { api, config, settings };
  }

  const input = (config: TagshipConfig, tag: string, extra: Partial<GitHubReleaseInput> = {}): GitHubReleaseInput => ({
    config,
    tag,
    version: tag.slice(1),
    commit: commits[tag]!,
    files: FILES,
    images: IMAGES,
    ...extra,
  });
  const count = (api: GitHubApi, method: string, pattern: RegExp) => api.requests.filter((r) => r.method === method && pattern.test(r.path)).length;
  const UPLOAD = /^\/repos\/o\/r\/releases\/\d+\/assets$/;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-ghrel-'));
    repoDir = join(root, 'repo');
    await execa(tools.git(), ['init', '--quiet', '--initial-branch=main', repoDir]);
    await commit(repoDir, 'README.md', 'Initial commit');
    await gitIn(repoDir, 'tag', 'v1.0.0');
    commits['v1.0.0'] = await gitIn(repoDir, 'rev-parse', 'HEAD');
    await commit(repoDir, 'api.py', 'feat(api): add ticket search');
    await commit(repoDir, 'fix.py', 'fix: keep empty ticket bodies');
    await gitIn(repoDir, 'tag', '-a', '-m', 'v1.1.0rc1', 'v1.1.0rc1');
    commits['v1.1.0rc1'] = await gitIn(repoDir, 'rev-parse', 'HEAD');
    await commit(repoDir, 'core.py', 'refactor(core): split the pipeline\n\nBREAKING CHANGE: Pipeline moved to otai.core.pipeline');
    await commit(repoDir, 'README.md', 'Update README');
    await commit(repoDir, 'docs.md', 'docs: explain image tags');
    await gitIn(repoDir, 'tag', 'v1.1.0');
    commits['v1.1.0'] = await gitIn(repoDir, 'rev-parse', 'HEAD');
    await commit(repoDir, 'perf.py', 'perf(hf): cache the tokenizer');
    await gitIn(repoDir, 'tag', 'v1.2.0rc1');
    commits['v1.2.0rc1'] = await gitIn(repoDir, 'rev-parse', 'HEAD');
  });
  after(async () => {
    await Promise.all(apis.map((a) => a.close()));
    await rm(root, { recursive: true, force: true });
  });

  it('creates the release with notes since the previous stable tag and both assets', async () => {
    const { api, config, settings } = await github();
    const result = await publishGitHubRelease(settings, input(config, 'v1.1.0'));
    assert.equal(result.created, true);
    assert.deepEqual(result.assetsUploaded, ['SHA256SUMS', 'images.txt']);
    assert.deepEqual(result.assetsUnchanged, []);
    assert.equal(api.releases.length, 1);
    const release = api.releases[0]!;
    assert.equal(result.id, release.id);
    assert.equal(result.url, `${api.url}/o/r/releases/tag/v1.1.0`);
    assert.equal(release.tag_name, 'v1.1.0');
    assert.equal(release.name, 'v1.1.0');
    assert.equal(release.target_commitish, commits['v1.1.0']);
    assert.equal(release.prerelease, false);
    assert.equal(release.make_latest, 'true');
    assert.equal(api.latest.get('o/r'), release.id);

    const body = release.body ?? '';
    const short = (c: string) => c.slice(0, 7);
    // Since v1.0.0, not since v1.1.0rc1: the rc's commits belong to the stable release's notes.
    assert.match(body, /### ⚠ Breaking changes\n\n- \*\*core:\*\* split the pipeline \([0-9a-f]{7,}\)\n {2}- Pipeline moved to otai\.core\.pipeline\n/);
    assert.match(body, /### Features\n\n- \*\*api:\*\* add ticket search \([0-9a-f]{7,}\)\n/);
    assert.match(body, /### Bug fixes\n\n- keep empty ticket bodies \([0-9a-f]{7,}\)\n/);
    assert.match(body, /### Documentation\n\n- explain image tags \([0-9a-f]{7,}\)\n/);
    assert.match(body, /### Other\n\n- Update README \([0-9a-f]{7,}\)\n/);
    assert.ok(!body.includes('Initial commit'), body);
    assert.ok(!body.includes(short(commits['v1.0.0']!)), body);
    assert.ok(!body.includes('cache the tokenizer'), body);
    assert.ok(body.indexOf('Breaking') < body.indexOf('Features') && body.indexOf('Features') < body.indexOf('Bug fixes'), body);
    assert.match(body, /### Packages\n\n- `otai_demo-1\.1\.0-py3-none-any\.whl`\n- `otai_demo-1\.1\.0\.tar\.gz`\n/);
    assert.match(body, /### Images\n\n- `ghcr\.io\/o\/r:1\.1\.0-core` \(core, `sha256:1{64}`\)\n/);
    // A local repository has no compare page on github.com.
    assert.ok(!body.includes('Full changelog'), body);

    const asset = (name: string) => release.assets.find((a) => a.name === name);
    assert.equal(asset('SHA256SUMS')?.bytes.toString(), `${'a'.repeat(64)}  otai_demo-1.1.0-py3-none-any.whl\n${'b'.repeat(64)}  otai_demo-1.1.0.tar.gz\n`);
    assert.equal(
      asset('images.txt')?.bytes.toString(),
      [
        `ghcr.io/o/r:1.1.0-core@sha256:${'1'.repeat(64)}`,
        `ghcr.io/o/r:1.1.0-core@sha256:${'2'.repeat(64)} linux/amd64`,
        `ghcr.io/o/r:1.1.0-core@sha256:${'3'.repeat(64)} linux/arm64`,
        `ghcr.io/o/r:core-latest@sha256:${'1'.repeat(64)}`,
        `ghcr.io/o/r:core-latest@sha256:${'2'.repeat(64)} linux/amd64`,
        `ghcr.io/o/r:core-latest@sha256:${'3'.repeat(64)} linux/arm64`,
        '',
      ].join('\n'),
    );
    assert.match(asset('SHA256SUMS')!.contentType, /^text\/plain/);
    assert.equal(count(api, 'POST', /^\/repos\/o\/r\/releases$/), 1);
    assert.equal(count(api, 'POST', UPLOAD), 2);
    assert.ok(
      api.requests.every((r) => r.userAgent?.startsWith('tagship')),
      inspect(api.requests.map((r) => r.userAgent)),
    );
  });

  it('a second run with the same input updates the release and uploads nothing', async () => {
    const { api, config, settings } = await github();
    assert.equal((await publishGitHubRelease(settings, input(config, 'v1.1.0'))).created, true, 'the first run');
    const before = api.requests.length;
    const body = api.releases[0]!.body;
    const result = await publishGitHubRelease(settings, input(config, 'v1.1.0'));
    assert.equal(result.created, false);
    assert.equal(result.id, api.releases[0]!.id);
    assert.deepEqual(result.assetsUploaded, []);
    assert.deepEqual(result.assetsUnchanged, ['SHA256SUMS', 'images.txt']);
    assert.equal(api.releases.length, 1);
    assert.equal(api.releases[0]!.body, body);
    const calls = api.requests.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`);
    assert.deepEqual(calls, [
      'GET /repos/o/r/releases/tags/v1.1.0 200',
      `PATCH /repos/o/r/releases/${result.id} 200`,
      `GET /repos/o/r/releases/${result.id}/assets 200`,
    ]);
  });

  it('replaces SHA256SUMS when the files changed and leaves images.txt alone', async () => {
    const { api, config, settings } = await github();
    assert.equal((await publishGitHubRelease(settings, input(config, 'v1.1.0'))).created, true, 'the first run');
    const files = [...FILES, { filename: 'otai_demo-1.1.0-py3-none-manylinux.whl', sha256: 'c'.repeat(64) }];
    const oldId = api.releases[0]!.assets.find((a) => a.name === 'SHA256SUMS')!.id;
    const before = api.requests.length;
    const result = await publishGitHubRelease(settings, input(config, 'v1.1.0', { files }));
    assert.deepEqual(result.assetsUploaded, ['SHA256SUMS']);
    assert.deepEqual(result.assetsUnchanged, ['images.txt']);
    const sums = api.releases[0]!.assets.find((a) => a.name === 'SHA256SUMS')!;
    assert.notEqual(sums.id, oldId);
    assert.equal(sums.bytes.toString(), sha256sums(files));
    assert.match(sums.bytes.toString(), /c{64} {2}otai_demo-1\.1\.0-py3-none-manylinux\.whl\n/);
    const calls = api.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    assert.ok(calls.includes(`DELETE /repos/o/r/releases/assets/${oldId}`), inspect(calls));
    assert.equal(calls.filter((c) => c.startsWith('POST ') && UPLOAD.test(c.slice(5))).length, 1);
    assert.equal(api.releases[0]!.assets.length, 2);
    assert.equal(count(api, 'POST', /^\/repos\/o\/r\/releases$/), 1);
  });

  it('marks a pre-release as such and never as latest; its notes start at the previous tag of any kind', async () => {
    const { api, config, settings } = await github();
    const stable = await publishGitHubRelease(settings, input(config, 'v1.1.0'));
    assert.equal(api.latest.get('o/r'), stable.id, 'the stable release is latest');
    const result = await publishGitHubRelease(settings, input(config, 'v1.2.0rc1'));
    assert.equal(result.created, true);
    const release = api.releases.find((r) => r.tag_name === 'v1.2.0rc1')!;
    assert.equal(release.prerelease, true);
    assert.equal(release.make_latest, 'false');
    assert.equal(api.latest.get('o/r'), stable.id);
    assert.match(release.body ?? '', /^### Performance\n\n- \*\*hf:\*\* cache the tokenizer \([0-9a-f]{7,}\)\n/);
    assert.ok(!(release.body ?? '').includes('ticket search'), release.body ?? '');
  });

  it('re-publishing an older stable release does not make it latest', async () => {
    const { api, config, settings } = await github();
    await publishGitHubRelease(settings, input(config, 'v1.0.0'));
    const release = api.releases.find((r) => r.tag_name === 'v1.0.0')!;
    assert.equal(release.prerelease, false);
    assert.equal(release.make_latest, 'false');
    assert.match(release.body ?? '', /### Changes\n\n- Initial commit \([0-9a-f]{7,}\)\n/);
  });

  it('a rejected token is GitHubAuthRejected and the token appears nowhere', async () => {
    const { config, settings } = await github();
    const wrong = `ghp_${randomBytes(18).toString('hex')}`;
    let caught: unknown;
    await publishGitHubRelease({ ...settings, githubToken: wrong }, input(config, 'v1.1.0')).catch((err: unknown) => (caught = err));
    const failure = failureOf(caught);
    assert.equal(failure.type, 'GitHubAuthRejected');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /o\/r/);
    assert.match(failure.message, /contents: write/);
    assert.match(failure.message, /Bad credentials/);
    for (const text of [failure.message, failure.stack ?? '', inspect(failure, { depth: 10 }), JSON.stringify(failure), String(failure.cause ?? '')]) {
      assert.ok(!text.includes(wrong), 'the rejected token leaked');
      assert.ok(!text.includes(token), 'the real token leaked');
    }
  });

  it('no token is GitHubTokenMissing and says how to turn the release off', async () => {
    const { api, config, settings } = await github();
    const { githubToken: _, ...noToken } = settings;
    const before = api.requests.length;
    let caught: unknown;
    await publishGitHubRelease(noToken, input(config, 'v1.1.0')).catch((err: unknown) => (caught = err));
    const failure = failureOf(caught);
    assert.equal(failure.type, 'GitHubTokenMissing');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /TAGSHIP_GITHUB_TOKEN/);
    assert.match(failure.message, /github_release\.enabled = false/);
    assert.equal(api.requests.length, before);
  });

  it('an unknown repository is GitHubRepositoryNotFound', async () => {
    const { api, config, settings } = await github();
    const other = parseConfig(`[repository]\nowner = "o"\nname = "gone"\nurl = "${repoDir}"\n[github_release]\napi_url = "${api.url}"\n`, 'test');
    let caught: unknown;
    await publishGitHubRelease(settings, { ...input(config, 'v1.1.0'), config: other }).catch((err: unknown) => (caught = err));
    const failure = failureOf(caught);
    assert.equal(failure.type, 'GitHubRepositoryNotFound');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /o\/gone/);
  });

  it('a GitHub outage is a plain, retryable error', async () => {
    const { config, settings } = await github();
    const down = createServer((req, res) => {
      req.resume();
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Server Error' }));
    });
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
    try {
      const port = (down.address() as { port: number }).port;
      const cfg = parseConfig(`[repository]\nowner = "o"\nname = "r"\nurl = "${repoDir}"\n[github_release]\napi_url = "http://127.0.0.1:${port}"\n`, 'test');
      let caught: unknown;
      await publishGitHubRelease(settings, { ...input(config, 'v1.1.0'), config: cfg }).catch((err: unknown) => (caught = err));
      assert.ok(caught instanceof Error && !(caught instanceof ApplicationFailure), inspect(caught));
      assert.match(caught.message, /502/);
      assert.ok(!caught.message.includes(token));
    } finally {
      await new Promise<void>((r) => down.close(() => r()));
    }
  });
});

describe('release notes', () => {
  const c = (subject: string, body = '', n = 1): ReleaseCommit => ({ sha: `${n}`.padStart(40, '0'), shortSha: `${n}`.padStart(7, '0'), subject, body });
  const base = { version: '2.0.0', repository: { owner: 'o', name: 'r' }, files: [], images: [] };

  it('groups conventional commits, with breaking changes first and scopes in bold', () => {
    const notes = renderReleaseNotes({
      ...base,
      previousTag: 'v1.4.0',
      commits: [
        c('feat(cli)!: rename --wait to --follow', '', 1),
        c('fix(worker): retry a lost heartbeat', '', 2),
        c('chore: bump deps', 'BREAKING-CHANGE: needs Node 20', 3),
        c('feat: add release notes', '', 4),
        c('ci: cache uv', '', 5),
        c('Merge-free wording', '', 6),
        c('perf: stream uploads', '', 7),
      ],
    });
    assert.equal(
      notes,
      [
        '### ⚠ Breaking changes',
        '',
        '- **cli:** rename --wait to --follow (0000001)',
        '- bump deps (0000003)',
        '  - needs Node 20',
        '',
        '### Features',
        '',
        '- add release notes (0000004)',
        '',
        '### Bug fixes',
        '',
        '- **worker:** retry a lost heartbeat (0000002)',
        '',
        '### Performance',
        '',
        '- stream uploads (0000007)',
        '',
        '### Other',
        '',
        '- cache uv (0000005)',
        '- Merge-free wording (0000006)',
        '',
        '**Full changelog**: [v1.4.0...v2.0.0](https://github.com/o/r/compare/v1.4.0...v2.0.0)',
        '',
      ].join('\n'),
    );
  });

  it('lists commits that do not follow the convention under one "Changes" heading', () => {
    const notes = renderReleaseNotes({ ...base, commits: [c('Fix the thing', '', 1), c('WIP: more', '', 2), c('Add feature', '', 3)] });
    assert.equal(notes, '### Changes\n\n- Fix the thing (0000001)\n- WIP: more (0000002)\n- Add feature (0000003)\n');
  });

  it('links the compare page only for a repository on GitHub and with a previous tag', () => {
    const one = [c('feat: x')];
    assert.match(
      renderReleaseNotes({ ...base, previousTag: 'v1.0.0', commits: one, repository: { owner: 'o', name: 'r', url: 'git@github.com:o/r.git' } }),
      /compare\/v1\.0\.0\.\.\.v2\.0\.0/,
    );
    assert.ok(
      !renderReleaseNotes({ ...base, previousTag: 'v1.0.0', commits: one, repository: { owner: 'o', name: 'r', url: '/srv/git/r' } }).includes('compare'),
    );
    assert.ok(!renderReleaseNotes({ ...base, commits: one }).includes('Full changelog'));
  });

  it('sorts packages and images so the same release always gives the same notes', () => {
    const images = [
      { variant: 'hf_local', tags: ['reg/r:2.0.0-hf_local'], digest: 'sha256:bb' },
      { variant: 'core', tags: ['reg/r:core-latest', 'reg/r:2.0.0-core'], digest: 'sha256:aa' },
    ];
    const files = [{ filename: 'z-2.0.0.tar.gz' }, { filename: 'a-2.0.0-py3-none-any.whl' }];
    const one = renderReleaseNotes({ ...base, commits: [], files, images });
    const two = renderReleaseNotes({ ...base, commits: [], files: [...files].reverse(), images: [...images].reverse() });
    assert.equal(one, two);
    assert.match(one, /- `a-2\.0\.0-py3-none-any\.whl`\n- `z-2\.0\.0\.tar\.gz`/);
    assert.match(
      one,
      /- `reg\/r:2\.0\.0-core` \(core, `sha256:aa`\)\n- `reg\/r:core-latest` \(core, `sha256:aa`\)\n- `reg\/r:2\.0\.0-hf_local` \(hf_local, `sha256:bb`\)\n/,
    );
    assert.equal(imagesList(images), imagesList([...images].reverse()));
  });

  it('parses conventional headers and footers', () => {
    assert.deepEqual(parseConventional('feat(api)!: drop v1', ''), { type: 'feat', scope: 'api', breaking: true, description: 'drop v1' });
    assert.deepEqual(parseConventional('fix: x', 'details\n\nBREAKING CHANGE: y'), { type: 'fix', breaking: true, breakingNote: 'y', description: 'x' });
    assert.deepEqual(parseConventional('Feat: capitalised', ''), { type: 'feat', breaking: false, description: 'capitalised' });
    assert.deepEqual(parseConventional('wip: unknown type', ''), { breaking: false, description: 'wip: unknown type' });
    assert.deepEqual(parseConventional('feat:no space', ''), { breaking: false, description: 'feat:no space' });
  });

  it('reads git log -z output field by field', () => {
    const sha = (n: string) => n.repeat(40);
    const out = `${sha('a')}\0aaaaaaa\0feat: one\0body\nBREAKING CHANGE: x\n\0${sha('b')}\0bbbbbbb\0two\0\0`;
    assert.deepEqual(parseGitLog(out), [
      { sha: sha('a'), shortSha: 'aaaaaaa', subject: 'feat: one', body: 'body\nBREAKING CHANGE: x' },
      { sha: sha('b'), shortSha: 'bbbbbbb', subject: 'two', body: '' },
    ]);
  });

  it('picks the previous release and the latest one by version', () => {
    const tags = ['v1.0.0', 'v1.1.0rc1', 'v1.1.0', 'v1.2.0rc1', 'v0.9.0', 'not-a-release', 'v1.0.0.post1'];
    assert.equal(previousReleaseTag(tags, '1.1.0'), 'v1.0.0.post1');
    assert.equal(previousReleaseTag(tags, '1.2.0rc1'), 'v1.1.0');
    assert.equal(previousReleaseTag(tags, '1.1.0rc1'), 'v1.0.0.post1');
    assert.equal(previousReleaseTag(tags, '1.2.0rc2'), 'v1.2.0rc1');
    assert.equal(previousReleaseTag(tags, '0.9.0'), undefined);
    assert.equal(isLatestRelease(tags, '1.1.0'), true);
    assert.equal(isLatestRelease(tags, '1.0.0'), false);
    assert.equal(isLatestRelease(tags, '1.2.0rc1'), false);
    assert.equal(isLatestRelease([...tags, 'v1.1.1'], '1.1.0'), false);
  });

  it('formats SHA256SUMS so sha256sum -c checks it, and expands the upload URL template', async () => {
    assert.equal(
      sha256sums([
        { filename: 'b.whl', sha256: '2'.repeat(64) },
        { filename: 'a.tar.gz', sha256: '1'.repeat(64) },
      ]),
      `${'1'.repeat(64)}  a.tar.gz\n${'2'.repeat(64)}  b.whl\n`,
    );
    const dir = await mkdtemp(join(tmpdir(), 'tagship-sums-'));
    try {
      const files = [];
      for (const [name, text] of [
        ['pkg-1.0.0.tar.gz', 'sdist'],
        ['pkg-1.0.0-py3-none-any.whl', 'wheel'],
      ] as const) {
        await writeFile(join(dir, name), text);
        files.push({ filename: name, sha256: createHash('sha256').update(text).digest('hex') });
      }
      await writeFile(join(dir, 'SHA256SUMS'), sha256sums(files));
      const check = await execa('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: dir });
      assert.equal(check.stdout, 'pkg-1.0.0-py3-none-any.whl: OK\npkg-1.0.0.tar.gz: OK');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal(
      uploadUrl('https://uploads.github.com/repos/o/r/releases/7/assets{?name,label}', 'images.txt'),
      'https://uploads.github.com/repos/o/r/releases/7/assets?name=images.txt',
    );
  });
});
