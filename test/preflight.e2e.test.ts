// Preflight on real destinations: a docker-registry with htpasswd auth, pypiserver with upload auth
// behind PyPI's trusted-publishing endpoints (the mint double), GitHub's API (the double) and a real
// git repository whose tags have, lack, or link out of the repository for, the Dockerfile. Every
// check passes on a release that would go through, each one refuses on its own with a message
// naming what to fix, several refusals come in one message, and a passing check leaves nothing in
// the registry or on the index.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { execa } from 'execa';
import { importPKCS8, SignJWT } from 'jose';
import { createActivities } from '../activities';
import type { WorkerSettings } from '../activities/lib/settings';
import { tools } from '../activities/lib/tools';
import { parseConfig } from '../src/config/load';
import { preflightSlice } from '../src/config/plan';
import type { PreflightInput, PreflightResult } from '../src/contract/activities';
import { git } from '../src/dev/demo/example-repo';
import { writePrivateFile } from '../src/dev/stack/private-files';
import { startPypiServer, type PypiServer } from '../src/dev/stack/pypiserver';
import { startRegistry, type LocalRegistry } from '../src/dev/stack/registry';
import { freePort, httpOk, startService, type RunningService } from '../src/dev/stack/service';
import { startGitHubApi, type GitHubApi, type GitHubApiOptions } from './support/github-api';
import { startMintServer, type MintServer } from './support/pypi-mint-server';
import { startOidcIssuer, type OidcIssuer } from './support/oidc-issuer';

const OWNER = 'acme';
const NAME = 'app';
const SLUG = `${OWNER}/${NAME}`;
const WORKFLOW = '.github/workflows/release.yml';
const secret = () => randomBytes(18).toString('base64url');

interface AuthRegistry {
  readonly host: string;
  readonly storage: string;
  readonly service: RunningService;
}

/** A real docker-registry on 127.0.0.1 with the given `auth` section of its configuration. */
async function startAuthRegistry(dataDir: string, auth: Record<string, unknown>): Promise<AuthRegistry> {
  const storage = join(dataDir, 'storage');
  await mkdir(storage, { recursive: true, mode: 0o700 });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const configFile = join(dataDir, 'config.yml');
  await writePrivateFile(
    configFile,
    JSON.stringify({
      version: 0.1,
      log: { level: 'error', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: storage }, delete: { enabled: true } },
      http: { addr: host },
      auth,
    }),
  );
  const service = await startService({
    name: 'docker-registry',
    file: tools.dockerRegistry(),
    args: ['serve', configFile],
    ports: [port],
    ready: () => httpOk(`http://${host}/v2/`),
  });
  return { host, storage, service };
}

/** htpasswd auth (bcrypt, the only hash docker-registry takes), as a small private registry runs it. */
async function htpasswdAuth(dataDir: string, username: string, password: string): Promise<Record<string, unknown>> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // The password over stdin, never argv; Python's crypt makes the bcrypt hash (libxcrypt).
  const { stdout: hash } = await execa(
    process.env.PYTHON ?? 'python3',
    ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH)))'],
    { input: password },
  );
  assert.match(hash, /^\$2[aby]\$/, 'a bcrypt hash for the htpasswd file');
  const htpasswd = join(dataDir, 'htpasswd');
  await writePrivateFile(htpasswd, `${username}:${hash}\n`);
  return { htpasswd: { realm: 'tagship-test', path: htpasswd } };
}

interface TokenService {
  /** The registry's `auth.token` section. */
  readonly auth: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * A registry token service, the part of GHCR or Docker Hub that cannot run here: Basic
 * credentials in, a JWT granting what `grants` allows the user (of what the scope asks) out, signed
 * by a key whose certificate the real registry trusts. Unknown users and wrong passwords get 401.
 */
async function startTokenService(dir: string, grants: Record<string, { password: string; actions: readonly string[] }>): Promise<TokenService> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=tagship-test-token',
  ]);
  const key = await importPKCS8(await readFile(keyFile, 'utf8'), 'RS256');
  const der = (await readFile(certFile, 'utf8')).replace(/-----[A-Z ]+-----|\s/g, '');
  const service = 'tagship-test-registry';
  const issuer = 'tagship-test-token';
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [user, ...rest] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /i, ''), 'base64')
      .toString()
      .split(':');
    const grant = grants[user ?? ''];
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!grant || grant.password !== rest.join(':')) return void json(401, { details: 'incorrect username or password' });
    const scope = /^repository:([^:]+):(.+)$/.exec(url.searchParams.get('scope') ?? '');
    const access = scope ? [{ type: 'repository', name: scope[1], actions: scope[2]!.split(',').filter((a) => grant.actions.includes(a)) }] : [];
    void new SignJWT({ access })
      .setProtectedHeader({ alg: 'RS256', x5c: [der] })
      .setIssuer(issuer)
      .setSubject(user!)
      .setAudience(url.searchParams.get('service') ?? '')
      .setIssuedAt()
      .setNotBefore(Math.floor(Date.now() / 1000) - 5)
      .setExpirationTime('5m')
      .setJti(randomBytes(8).toString('hex'))
      .sign(key)
      .then((token) => json(200, { token, access_token: token, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const realm = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
  return {
    auth: { token: { realm, service, issuer, rootcertbundle: certFile } },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** Pushes a one-layer image by the distribution API, so the registry has a repository and a tag to keep. */
async function pushImage(host: string, auth: string, repository: string, tag: string): Promise<void> {
  const blob = async (bytes: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const started = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } });
    assert.equal(started.status, 202);
    const url = new URL(started.headers.get('location')!, `http://${host}`);
    url.searchParams.set('digest', digest);
    const res = await fetch(url, { method: 'PUT', headers: { authorization: auth, 'content-type': 'application/octet-stream' }, body: bytes });
    assert.equal(res.status, 201, `blob push: ${await res.text()}`);
    return { digest, size: bytes.length };
  };
  const config = await blob(Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'));
  const layer = await blob(Buffer.from('a layer, as far as the registry can tell'));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  };
  const res = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': manifest.mediaType },
    body: JSON.stringify(manifest),
  });
  assert.equal(res.status, 201, `manifest push: ${await res.text()}`);
}

/**
 * Everything a registry shows and stores: its catalog, each repository's tags, and every file of
 * its storage but one kind. docker-registry 2.8 writes a cancelled upload's hash state again after
 * deleting the upload (the request's final Close runs after the cancel; distribution/distribution
 * PR #1697): a `_uploads/<id>/hashstates/sha256/0` file of the empty upload, reachable through no
 * API, which the registry's own cancel leaves whoever cancels. `leftovers` lists those apart.
 */
async function registryState(
  host: string,
  auth: string,
  storage: string,
): Promise<{ catalog: unknown; tags: Record<string, unknown>; files: string[]; leftovers: string[] }> {
  const get = async (path: string) => (await fetch(`http://${host}${path}`, { headers: { authorization: auth } })).json() as Promise<Record<string, unknown>>;
  const catalog = await get('/v2/_catalog');
  const tags: Record<string, unknown> = {};
  for (const repo of [...((catalog.repositories as string[] | undefined) ?? []), SLUG]) tags[repo] = await get(`/v2/${repo}/tags/list`);
  const all = (await readdir(storage, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const leftover = /\/_uploads\/[0-9a-f-]{36}\/hashstates\/sha256\/0$/;
  return { catalog, tags, files: all.filter((f) => !leftover.test(f)), leftovers: all.filter((f) => leftover.test(f)) };
}

describe('preflight on real destinations', { timeout: 5 * 60_000 }, () => {
  let root: string;
  let repoDir: string;
  let registry: AuthRegistry;
  let tokenRegistry: AuthRegistry;
  let tokenService: TokenService;
  let readOnlyRegistry: LocalRegistry;
  let index: PypiServer;
  let issuer: OidcIssuer;
  let mint: MintServer;
  let github: GitHubApi;
  const extraGitHubs: GitHubApi[] = [];
  const registryUser = 'pusher';
  const registryPassword = secret();
  const readerPassword = secret();
  const pushOnlyPassword = secret();
  const githubToken = `ghp_${secret()}`;
  const commits: Record<string, string> = {};
  let settings: WorkerSettings;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-preflight-'));
    registry = await startAuthRegistry(join(root, 'registry'), await htpasswdAuth(join(root, 'registry'), registryUser, registryPassword));
    tokenService = await startTokenService(join(root, 'token-service'), {
      [registryUser]: { password: registryPassword, actions: ['pull', 'push', 'delete'] },
      pushonly: { password: pushOnlyPassword, actions: ['pull', 'push'] },
      reader: { password: readerPassword, actions: ['pull'] },
    });
    tokenRegistry = await startAuthRegistry(join(root, 'token-registry'), tokenService.auth);
    await pushImage(registry.host, basic(registryUser, registryPassword), SLUG, '0.9.0-core');
    readOnlyRegistry = await startRegistry({ dataDir: join(root, 'readonly-registry'), readOnly: true });
    index = await startPypiServer({ dataDir: join(root, 'index') });
    issuer = await startOidcIssuer({ repository: SLUG, ref: 'refs/tags/v1.0.0', workflowFile: WORKFLOW });
    mint = await startMintServer({
      issuer: issuer.issuer,
      jwksUrl: issuer.jwksUrl,
      publisher: { repository: SLUG, workflowFile: WORKFLOW },
      indexUrl: index.uploadUrl,
      indexUsername: index.username,
      indexPassword: index.password,
    });
    github = await startGitHubApi({ token: githubToken, repositories: [SLUG] });

    // v1.0.0 has the Dockerfile and its context, v1.0.1 lost the Dockerfile, v1.0.2 links it out of the repository.
    repoDir = join(root, 'repo');
    await mkdir(join(repoDir, 'docker'), { recursive: true });
    await writeFile(join(repoDir, 'pyproject.toml'), '[project]\nname = "acme-app"\nversion = "1.0.0"\n');
    await writeFile(join(repoDir, 'Dockerfile'), 'FROM scratch\n');
    await writeFile(join(repoDir, 'docker', 'entrypoint.sh'), '#!/bin/sh\n');
    await git(repoDir, ['init', '--quiet', '--initial-branch=main']);
    await git(repoDir, ['add', '-A']);
    await git(repoDir, ['commit', '--quiet', '-m', 'with a Dockerfile']);
    await git(repoDir, ['tag', 'v1.0.0']);
    await git(repoDir, ['rm', '--quiet', 'Dockerfile']);
    await git(repoDir, ['commit', '--quiet', '-m', 'Dockerfile removed']);
    await git(repoDir, ['tag', 'v1.0.1']);
    const outside = join(root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
    await symlink(join(outside, 'Dockerfile'), join(repoDir, 'Dockerfile'));
    await git(repoDir, ['add', 'Dockerfile']);
    await git(repoDir, ['commit', '--quiet', '-m', 'Dockerfile linked from outside']);
    await git(repoDir, ['tag', 'v1.0.2']);
    await unlink(join(repoDir, 'Dockerfile'));
    for (const tag of ['v1.0.0', 'v1.0.1', 'v1.0.2']) commits[tag] = await git(repoDir, ['rev-parse', `${tag}^{commit}`]);

    settings = {
      workDir: join(root, 'work'),
      artifactDir: join(root, 'artifacts'),
      registry: { username: registryUser, password: registryPassword },
      index: { username: index.username, password: index.password },
      githubToken,
    };
  });

  after(async () => {
    for (const g of extraGitHubs) await g.close();
    await github?.close();
    await mint?.close();
    await issuer?.close();
    await index?.stop();
    await readOnlyRegistry?.stop();
    await registry?.service.stop();
    await tokenRegistry?.service.stop();
    await tokenService?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  interface Setup {
    readonly registryHost?: string;
    readonly auth?: 'token' | 'trusted-publishing';
    readonly uploadUrl?: string;
    readonly githubUrl?: string;
    readonly githubRelease?: boolean;
    readonly variants?: boolean;
  }

  const configFor = (s: Setup = {}) =>
    preflightSlice(
      parseConfig(
        [
          // A top-level key goes before the first table; without one, the seed's variants would apply.
          ...(s.variants === false ? ['variants = []'] : []),
          `[repository]\nowner = "${OWNER}"\nname = "${NAME}"\nurl = "${repoDir}"`,
          '[[packages]]\nname = "acme-app"\npath = "."',
          ...(s.variants === false ? [] : ['[[variants]]\nname = "core"\npackages = ["acme-app"]', '[[variants]]\nname = "all"\npackages = ["acme-app"]']),
          `[images]\nrepository = "${s.registryHost ?? registry.host}/${SLUG}"\ninsecure = true`,
          `[index]\nauth = "${s.auth ?? 'token'}"\nupload_url = "${s.uploadUrl ?? index.uploadUrl}"\nsimple_url = "${index.simpleUrl}"\noidc_url = "${mint.url}"`,
          `[github_release]\nenabled = ${s.githubRelease ?? true}\napi_url = "${s.githubUrl ?? github.url}"`,
        ].join('\n'),
        'tagship.toml',
      ),
    );

  const inputFor = (tag: string, s: Setup = {}, oidcToken?: string): PreflightInput => ({
    config: configFor(s),
    tag,
    commit: commits[tag]!,
    version: tag.slice(1),
    ...(oidcToken ? { oidcToken } : {}),
  });

  /** Runs the activity as the worker does (its factory: redaction, heartbeats). */
  const preflight = (worker: WorkerSettings, input: PreflightInput): Promise<PreflightResult> => {
    const activities = createActivities(worker);
    return new MockActivityEnvironment().run((i: PreflightInput) => activities.preflightRelease(i), input);
  };

  const fails = async (worker: WorkerSettings, input: PreflightInput, type: 'PreflightFailed' | 'PreflightUnreachable'): Promise<string> => {
    const err = await preflight(worker, input).then(
      (r) => assert.fail(`preflight passed: ${JSON.stringify(r)}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, type === 'PreflightFailed');
    return err.message;
  };

  const detail = (result: PreflightResult, check: string) => result.checks.find((c) => c.check === check)?.detail ?? assert.fail(`no ${check} line`);

  const githubDouble = async (opts: Partial<GitHubApiOptions>) => {
    const api = await startGitHubApi({ token: githubToken, repositories: [SLUG], ...opts });
    extraGitHubs.push(api);
    return api;
  };

  it('passes a release every destination takes, one line each, leaving no blob, tag, repository or upload in the registry and nothing on the index', async () => {
    const auth = basic(registryUser, registryPassword);
    const before = await registryState(registry.host, auth, registry.storage);
    assert.deepEqual(before.catalog, { repositories: [SLUG] });

    const result = await preflight(settings, inputFor('v1.0.0'));

    assert.deepEqual(
      result.checks.map((c) => c.check),
      ['registry push', 'index upload', 'github release', 'dockerfile'],
    );
    assert.match(
      detail(result, 'registry push'),
      new RegExp(`^push to ${registry.host}/${SLUG} allowed for variants core, all \\(an empty upload was started and cancelled`),
    );
    assert.match(
      detail(result, 'index upload'),
      /^token: .* accepted the worker's credentials .*HTTP 400: Missing 'content' file-field!.*nothing was uploaded/,
    );
    assert.match(detail(result, 'github release'), new RegExp(`^push to ${SLUG} allowed for the token's user`));
    assert.match(detail(result, 'dockerfile'), new RegExp(`^Dockerfile \\(context \\.\\) present at commit ${commits['v1.0.0']!.slice(0, 12)}`));

    // The registry: the same catalog, the same tags, no blob, no upload (no data, no start time);
    // only the hash state of the empty upload docker-registry itself writes after the cancel.
    const after = await registryState(registry.host, auth, registry.storage);
    assert.deepEqual({ ...after, leftovers: [] }, { ...before, leftovers: [] });
    assert.equal(after.leftovers.length - before.leftovers.length, 1);
    assert.deepEqual(await readdir(index.packagesDir), [], 'nothing uploaded to the index');
    assert.ok(!result.checks.some((c) => c.detail.includes(registryPassword) || c.detail.includes(index.password) || c.detail.includes(githubToken)));
  });

  it('refuses a wrong registry password, naming the repository and what the registry said, and writes nothing', async () => {
    const auth = basic(registryUser, registryPassword);
    const before = await registryState(registry.host, auth, registry.storage);
    const message = await fails({ ...settings, registry: { username: registryUser, password: secret() } }, inputFor('v1.0.0'), 'PreflightFailed');
    assert.match(message, /^preflight: 1 of 4 checks failed; nothing was built or uploaded:\n/);
    assert.match(
      message,
      new RegExp(`registry push: ${registry.host}/${SLUG}: the registry refused to start an upload \\(HTTP 401: UNAUTHORIZED: authentication required\\)`),
    );
    assert.doesNotMatch(message, /index upload|github release|dockerfile/);
    assert.deepEqual(await registryState(registry.host, auth, registry.storage), before, 'a refused upload leaves nothing at all');
  });

  it('refuses a registry without credentials on the worker, saying which variables to set', async () => {
    const { registry: _none, ...anonymous } = settings;
    const message = await fails(anonymous, inputFor('v1.0.0'), 'PreflightFailed');
    assert.match(message, /registry push: .*HTTP 401.*this worker has no registry credentials: set TAGSHIP_REGISTRY_TOKEN/);
  });

  it('refuses a registry that takes no pushes (read-only), with its answer', async () => {
    const message = await fails(settings, inputFor('v1.0.0', { registryHost: readOnlyRegistry.host }), 'PreflightFailed');
    assert.match(
      message,
      new RegExp(`registry push: ${readOnlyRegistry.host}/${SLUG}: the registry refused to start an upload \\(HTTP 405: Method not allowed\\)`),
    );
  });

  it('a registry that hands out tokens (as GHCR does): push proven with a push grant, refused with a pull-only one or a wrong password', async () => {
    const on = (username: string, password: string): WorkerSettings => ({ ...settings, registry: { username, password } });
    const input = inputFor('v1.0.0', { registryHost: tokenRegistry.host });
    const files = async () =>
      (await readdir(tokenRegistry.storage, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name).slice(tokenRegistry.storage.length));

    const allowed = await preflight(on(registryUser, registryPassword), input);
    assert.match(detail(allowed, 'registry push'), /an empty upload was started and cancelled; nothing was written\)$/);
    // No blob, tag, repository or upload: only the hash state docker-registry writes after a cancel (see registryState).
    assert.deepEqual(
      (await files()).map((f) => f.replace(/[0-9a-f-]{36}/, '<id>')),
      [`/docker/registry/v2/repositories/${SLUG}/_uploads/<id>/hashstates/sha256/0`],
    );

    // May push but not delete: the cancel (a DELETE, checked as "delete") is refused, the upload stays for the purge.
    const pushOnly = await preflight(on('pushonly', pushOnlyPassword), input);
    assert.match(
      detail(pushOnly, 'registry push'),
      /allowed for variants core, all \(an empty upload was started, but its cancel answered HTTP 401; it stays, empty, until the registry purges unfinished uploads\)$/,
    );

    const pullOnly = await fails(on('reader', readerPassword), input, 'PreflightFailed');
    assert.match(
      pullOnly,
      new RegExp(
        `registry push: ${tokenRegistry.host}/${SLUG}: the registry refused to start an upload \\(HTTP 401: UNAUTHORIZED: authentication required\\); the worker needs push permission on it`,
      ),
    );

    const wrong = await fails(on(registryUser, secret()), input, 'PreflightFailed');
    assert.match(
      wrong,
      new RegExp(
        `registry push: http://127.0.0.1:\\d+ refused a token \\(repository:${SLUG}:pull,push\\) for ${tokenRegistry.host}/${SLUG} \\(HTTP 401: incorrect username or password\\)`,
      ),
    );
  });

  it('refuses wrong index credentials, and missing ones, without uploading', async () => {
    const wrong = await fails({ ...settings, index: { username: index.username, password: secret() } }, inputFor('v1.0.0'), 'PreflightFailed');
    assert.match(wrong, new RegExp(`index upload: ${index.uploadUrl} refused the worker's index credentials \\(HTTP 403.*\\); check TAGSHIP_INDEX_TOKEN`));
    assert.match(wrong, /1 of 4 checks failed/);
    const { index: _none, ...without } = settings;
    const missing = await fails(without, inputFor('v1.0.0'), 'PreflightFailed');
    assert.match(missing, /index upload: index.auth = "token" but this worker has no index credentials: set TAGSHIP_INDEX_TOKEN/);
    assert.deepEqual(await readdir(index.packagesDir), []);
  });

  it('trusted publishing: exchanges CI token for an upload token it discards; no token, an expired or an invalid one pass with what was not proven', async () => {
    const claims = { repository: SLUG, ref: 'refs/tags/v1.0.0', workflowFile: WORKFLOW, audience: 'pypi' };
    const trusted = { auth: 'trusted-publishing' as const, uploadUrl: mint.url };
    const minted = mint.mints.length;

    const exchanged = await preflight(settings, inputFor('v1.0.0', trusted, await issuer.sign(claims)));
    assert.match(detail(exchanged, 'index upload'), /audience "pypi"\); CI's OIDC token was exchanged for an upload token.*\(the upload token was discarded\)/);
    assert.deepEqual(mint.mints.slice(minted), [{ ok: true, codes: [] }]);
    assert.doesNotMatch(JSON.stringify(exchanged), /pypi-[A-Za-z0-9_-]{20,}/, 'the minted token is not in the result');

    const noToken = await preflight(settings, inputFor('v1.0.0', trusted));
    assert.match(detail(noToken, 'index upload'), /CI sent no OIDC token yet, so the trusted publisher is checked when one arrives at publish/);

    const expired = await preflight(settings, inputFor('v1.0.0', trusted, await issuer.sign({ ...claims, expiresInSeconds: -30 })));
    assert.match(
      detail(expired, 'index upload'),
      /CI's OIDC token has expired .*not exchanged; not a preflight failure: the publish step waits for a fresh token/,
    );

    const wrongAudience = await preflight(settings, inputFor('v1.0.0', trusted, await issuer.sign({ ...claims, audience: 'not-pypi' })));
    assert.match(detail(wrongAudience, 'index upload'), /refused CI's OIDC token as expired or invalid .*not a preflight failure/);
    assert.equal(mint.mints.length, minted + 2, 'the expired token was not sent, the other two were');
    assert.deepEqual(mint.uploads, [], 'nothing uploaded');
  });

  it('trusted publishing: a token no trusted publisher accepts fails now, with PyPI’s error code', async () => {
    const token = await issuer.sign({ repository: 'someone/else', ref: 'refs/tags/v1.0.0', workflowFile: WORKFLOW, audience: 'pypi' });
    const message = await fails(settings, inputFor('v1.0.0', { auth: 'trusted-publishing', uploadUrl: mint.url }, token), 'PreflightFailed');
    assert.match(message, /index upload: .* refused to exchange CI's OIDC token for an upload token; is a trusted publisher configured/);
    assert.match(message, /invalid-publisher/);
    assert.ok(!message.includes(token), 'the OIDC token is not in the message');
  });

  it('GitHub: a rejected token, a missing one, an unknown repository, no push and a classic token without repo scope each fail', async () => {
    const rejected = await fails({ ...settings, githubToken: `ghp_${secret()}` }, inputFor('v1.0.0'), 'PreflightFailed');
    assert.match(rejected, /github release: GitHub refused TAGSHIP_GITHUB_TOKEN \(HTTP 401: Bad credentials\)/);

    const { githubToken: _none, ...without } = settings;
    assert.match(
      await fails(without, inputFor('v1.0.0'), 'PreflightFailed'),
      /github release: the GitHub Release is on \(github_release.enabled\) but this worker has no TAGSHIP_GITHUB_TOKEN/,
    );

    const elsewhere = await githubDouble({ repositories: ['acme/other'] });
    assert.match(
      await fails(settings, inputFor('v1.0.0', { githubUrl: elsewhere.url }), 'PreflightFailed'),
      new RegExp(`has no repository ${SLUG}, or TAGSHIP_GITHUB_TOKEN cannot see it`),
    );

    const readOnly = await githubDouble({ push: false });
    assert.match(
      await fails(settings, inputFor('v1.0.0', { githubUrl: readOnly.url }), 'PreflightFailed'),
      new RegExp(`TAGSHIP_GITHUB_TOKEN's user cannot push to ${SLUG} \\(GitHub answers permissions.push = false\\)`),
    );

    const classicNoRepo = await githubDouble({ scopes: ['read:org', 'gist'] });
    assert.match(
      await fails(settings, inputFor('v1.0.0', { githubUrl: classicNoRepo.url }), 'PreflightFailed'),
      /TAGSHIP_GITHUB_TOKEN is a classic token without the "repo" or "public_repo" scope \(it has: read:org, gist\)/,
    );

    const classic = await githubDouble({ scopes: ['repo', 'read:org'] });
    assert.match(detail(await preflight(settings, inputFor('v1.0.0', { githubUrl: classic.url })), 'github release'), /classic token with scope repo/);

    // Off: no GitHub check at all, and no token needed.
    const off = await preflight(without, inputFor('v1.0.0', { githubRelease: false }));
    assert.deepEqual(
      off.checks.map((c) => c.check),
      ['registry push', 'index upload', 'dockerfile'],
    );
  });

  it('refuses a commit without the Dockerfile, and one whose Dockerfile links out of the repository', async () => {
    const missing = await fails(settings, inputFor('v1.0.1'), 'PreflightFailed');
    assert.match(
      missing,
      new RegExp(`dockerfile: images.dockerfile "Dockerfile" is not in the repository at commit ${commits['v1.0.1']!.slice(0, 12)} \\(v1.0.1\\)`),
    );
    assert.match(missing, /1 of 4 checks failed/);

    const linked = await fails(settings, inputFor('v1.0.2'), 'PreflightFailed');
    assert.match(linked, /dockerfile: images.dockerfile "Dockerfile" leads outside the repository through a symlink/);
  });

  it('lists every refusal in one message, so one round of fixes covers them all', async () => {
    const broken: WorkerSettings = {
      workDir: settings.workDir,
      artifactDir: settings.artifactDir,
      registry: { username: registryUser, password: secret() },
      index: { username: index.username, password: secret() },
    };
    const message = await fails(broken, inputFor('v1.0.1'), 'PreflightFailed');
    assert.match(message, /^preflight: 4 of 4 checks failed \(all listed, so one retry can follow the fixes\); nothing was built or uploaded:\n/);
    const lines = message.split('\n').filter((l) => l.startsWith('  - '));
    assert.deepEqual(
      lines.map((l) => /^ {2}- ([a-z ]+):/.exec(l)?.[1]),
      ['registry push', 'index upload', 'github release', 'dockerfile'],
    );
  });

  it('a registry it cannot reach is PreflightUnreachable (retried) alone, and marked "could not check" beside a refusal', async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const alone = await fails(settings, inputFor('v1.0.0', { registryHost: nobody }), 'PreflightUnreachable');
    assert.match(alone, new RegExp(`registry push: cannot reach ${nobody} to start an upload: fetch failed \\(ECONNREFUSED\\)`));

    const mixed = await fails({ ...settings, githubToken: `ghp_${secret()}` }, inputFor('v1.0.0', { registryHost: nobody }), 'PreflightFailed');
    assert.match(mixed, /registry push: \(could not check\) cannot reach/);
    assert.match(mixed, /github release: GitHub refused TAGSHIP_GITHUB_TOKEN/);
  });

  it('a release without image variants checks only the index and GitHub', async () => {
    const result = await preflight(settings, inputFor('v1.0.1', { variants: false }));
    assert.deepEqual(
      result.checks.map((c) => c.check),
      ['index upload', 'github release'],
    );
  });
});
