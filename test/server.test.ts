// tagship server over real HTTP against the real Temporal dev server: tag pushes that start releases,
// redeliveries (also after an operator aborted the release), deliveries kept while Temporal is down
// and started when it is back, fuzzed deliveries, CI's start-release API and its answers (under way,
// versions that disagree, a preflight that fails, by tag and by ref), health, and the codec
// endpoint. What the server answers before anything starts (signatures, ignored events, refused
// tokens and bodies, a full spool) is in test/unit/server.test.ts.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { parseConfig } from '../src/config/load';
import type { TagshipConfig } from '../src/config/schema';
import { generateKeySpec, parseKeyRing } from '../src/codec/encryption-codec';
import { connectClient, type TemporalTarget } from '../src/client/connect';
import { hashToken } from '../src/server/ci-auth';
import { buildServer } from '../src/server/app';
import { SEARCH_ATTRIBUTE_TYPES } from '../src/contract/search-attributes';
import { startTemporalDevServer, type TemporalDevServer } from '../src/dev/stack/temporal';
import { fuzz } from './support/fuzz';
import { startOidcIssuer, type OidcIssuer } from './support/oidc-issuer';
import { startMintServer, type MintServer } from './support/pypi-mint-server';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { abortUpdate, statusQuery } from '../src/contract/messages';
import { DELIVERY_MEMO } from '../src/client/start';
import { git } from '../src/dev/demo/example-repo';
import { freePort } from '../src/dev/stack/service';
import { createWorker } from '../worker/run';
import { eventually } from './support/eventually';

const SECRET = `whsec-${randomBytes(8).toString('hex')}`;
const API_TOKEN = `tsk-${randomBytes(12).toString('hex')}`;
const CODEC_TOKEN = `codec-${randomBytes(12).toString('hex')}`;
const REPO = 'Softoft-Orga/open-ticket-ai';

function sign(body: string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function tagPush(tag: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ref: `refs/tags/${tag}`, created: true, deleted: false, repository: { full_name: REPO }, ...extra });
}

/**
 * GitHub-shaped CI tokens that may carry the `environment` claim a job with `environment:` gets,
 * from their own key and JWKS (tokens from support/oidc-issuer never carry one).
 */
async function startEnvironmentIssuer() {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = randomBytes(6).toString('hex');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks`,
    sign(repository: string, tag: string, environment?: string): Promise<string> {
      const ref = `refs/tags/${tag}`;
      const workflowRef = `${repository}/.github/workflows/release.yml@${ref}`;
      return new SignJWT({
        repository,
        ref,
        ref_type: 'tag',
        workflow_ref: workflowRef,
        job_workflow_ref: workflowRef,
        ...(environment !== undefined ? { environment } : {}),
      })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(issuer)
        .setAudience('tagship')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    },
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** A GitHub delivery: `delivery` is its X-GitHub-Delivery id (a redelivery repeats it); signature null sends none. */
function deliverTo(
  base: string,
  event: string,
  body: string,
  signature: string | null = sign(body),
  contentType = 'application/json',
  delivery = randomBytes(8).toString('hex'),
) {
  return fetch(`${base}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      'x-github-event': event,
      'x-github-delivery': delivery,
      ...(signature ? { 'x-hub-signature-256': signature } : {}),
    },
    body,
  });
}

describe('tagship server', { timeout: 5 * 60_000 }, () => {
  let temporal: TemporalDevServer;
  let client: Client;
  let rawClient: Client;
  let issuer: OidcIssuer;
  let app: FastifyInstance;
  let base: string;
  let target: TemporalTarget;
  let config: TagshipConfig;
  const codec = parseKeyRing(generateKeySpec('srv'));

  // signature: null sends none at all.
  const deliver = (event: string, body: string, signature: string | null = sign(body), contentType = 'application/json') =>
    deliverTo(base, event, body, signature, contentType);

  before(async () => {
    temporal = await startTemporalDevServer({ headless: true, searchAttributes: SEARCH_ATTRIBUTE_TYPES });
    issuer = await startOidcIssuer({ repository: REPO, ref: 'refs/tags/v2.0.0', workflowFile: '.github/workflows/release.yml' });
    target = { address: temporal.address, namespace: temporal.namespace, taskQueue: 'server-test', uiUrl: 'http://127.0.0.1:8233', codec };
    client = await connectClient(target);
    rawClient = new Client({ connection: await Connection.connect({ address: temporal.address }), namespace: temporal.namespace });
    config = parseConfig('[repository]\nowner = "Softoft-Orga"\nname = "open-ticket-ai"\n', 'tagship.toml');
    app = await buildServer({
      client,
      target,
      configs: [config],
      webhookSecret: SECRET,
      ciAuth: { issuer: issuer.issuer, audience: 'tagship', jwksUrl: issuer.jwksUrl, staticTokens: [hashToken(API_TOKEN)] },
      codec,
      codecTokens: [hashToken(CODEC_TOKEN)],
      bodyLimit: 64 * 1024,
      // No worker polls this server's task queue: CI's start answers "starting" once this wait is over.
      apiWaitMs: 1000,
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
    await client?.connection.close();
    await rawClient?.connection.close();
    await issuer?.close();
    await temporal?.stop();
  });

  describe('webhook events', () => {
    it('starts the release of a pushed tag, with workflow id and UI link', async () => {
      const res = await deliver('push', tagPush('v1.0.1'));
      assert.equal(res.status, 202);
      const body = (await res.json()) as { status: string; workflowId: string; url: string };
      assert.deepEqual([body.status, body.workflowId], ['started', 'release/Softoft-Orga/open-ticket-ai/v1.0.1']);
      assert.equal(body.url, 'http://127.0.0.1:8233/namespaces/default/workflows/release%2FSoftoft-Orga%2Fopen-ticket-ai%2Fv1.0.1');
      assert.equal((await client.workflow.getHandle(body.workflowId).describe()).status.name, 'RUNNING');
    });

    it('turns 100 concurrent deliveries of one tag into exactly one workflow run', async () => {
      const body = tagPush('v1.0.2');
      const responses = await Promise.all(Array.from({ length: 100 }, () => deliver('push', body)));
      assert.deepEqual([...new Set(responses.map((r) => r.status))], [202]);
      const runs: string[] = [];
      for await (const wf of client.workflow.list({ query: `WorkflowId = "release/Softoft-Orga/open-ticket-ai/v1.0.2"` })) runs.push(wf.runId);
      assert.equal(runs.length, 1);
    });

    it('never gives a 5xx for fuzzed, correctly signed bodies', async (t) => {
      // Seeded (TAGSHIP_FUZZ_SEED, default in support/fuzz): a failing body is replayed from the seed in the message.
      const random = fuzz(t);
      const shapes = [
        () => random.bytes(random.int(200)).toString('latin1'),
        () => JSON.stringify({ ref: random.bytes(6).toString('hex'), created: random.bool(), repository: random.bool() ? null : { full_name: 42 } }),
        () => JSON.stringify([1, 2, { ref: 'refs/tags/v1' }]),
        () => JSON.stringify({ ref: `refs/tags/v${random.int(9)}.${'9'.repeat(30)}.0`, created: true, repository: { full_name: REPO } }),
        () => JSON.stringify({ ref: 'refs/tags/v1.0.0\u0000;rm -rf /', created: true, repository: { full_name: REPO } }),
        () => 'null',
        () => '"string"',
      ];
      for (let i = 0; i < 200; i++) {
        const body = shapes[i % shapes.length]!();
        const res = await deliver(i % 3 === 0 ? 'ping' : 'push', body);
        assert.ok(res.status < 500, `delivery ${i}: status ${res.status} for ${JSON.stringify(body).slice(0, 80)} ${random.replay}`);
        await res.body?.cancel();
      }
    });
  });

  describe('CI start-release API', () => {
    const post = (auth: string | undefined, body: unknown) =>
      fetch(`${base}/api/releases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(body),
      });
    const ciToken = (overrides: Partial<{ repository: string; ref: string; workflowFile: string; audience: string; expiresInSeconds: number }> = {}) =>
      issuer.sign({ repository: REPO, ref: 'refs/tags/v2.0.0', workflowFile: '.github/workflows/release.yml', audience: 'tagship', ...overrides });

    it('starts the release for a GitHub Actions OIDC token, and answers 202 starting when validate has not answered within its wait', async () => {
      const res = await post(`Bearer ${await ciToken()}`, { tag: 'v2.0.0', pypiOidcToken: await ciToken({ audience: 'pypi' }) });
      assert.equal(res.status, 202, await res.clone().text());
      const body = (await res.json()) as { status: string; workflowId: string; url: string; tag: string };
      assert.deepEqual(
        { ...body, url: undefined },
        { status: 'starting', workflowId: 'release/Softoft-Orga/open-ticket-ai/v2.0.0', tag: 'v2.0.0', url: undefined },
      );
      assert.match(body.url, /\/workflows\/release%2FSoftoft-Orga%2Fopen-ticket-ai%2Fv2\.0\.0$/);
      // No worker here: the release waits for one, as it would after a worker outage.
      assert.equal((await client.workflow.getHandle(body.workflowId).describe()).status.name, 'RUNNING');
    });

    it('accepts a static API token, and refuses a wrong one or none', async () => {
      const ok = await post(`Bearer ${API_TOKEN}`, { tag: 'v2.1.0', dryRun: true });
      assert.equal(ok.status, 202);
      assert.equal(((await ok.json()) as { workflowId: string }).workflowId, 'release/Softoft-Orga/open-ticket-ai/v2.1.0/dry-run');
      assert.equal((await post(`Bearer ${API_TOKEN}x`, { tag: 'v2.1.0' })).status, 401);
      assert.equal((await post(undefined, { tag: 'v2.1.0' })).status, 401);
    });
  });

  describe('releases run by a worker: CI answers, a ref, webhook redeliveries after an abort', () => {
    // Each test has its own repository and server; one worker, running the real release workflow, serves them all.
    let root: string;
    let worker: Worker;
    let running: Promise<void>;
    let workerConnection: NativeConnection;
    let refClient: Client;
    const refApps: FastifyInstance[] = [];
    const startedIds: string[] = [];
    const refTarget = () => ({ ...target, taskQueue: 'server-ref-test' });
    // PyPI's trusted-publishing endpoints (the one part that cannot run here), which preflight asks.
    let mint: MintServer;

    /**
     * acme/<name>: one commit on main with its package at 3.1.0, and a server releasing only it.
     * Its index takes uploads by trusted publishing, which preflight proves against `mint`;
     * `indexAuth: 'token'` makes it an index this worker has no credentials for, which preflight refuses.
     */
    async function refServer(name: string, opts: { indexAuth?: 'token' } = {}) {
      const repoDir = join(root, name);
      await mkdir(repoDir);
      const gitIn = (args: string[]) => git(repoDir, args);
      await gitIn(['init', '--quiet', '--initial-branch=main']);
      await writeFile(join(repoDir, 'pyproject.toml'), '[project]\nname = "acme-ref"\nversion = "3.1.0"\n');
      await gitIn(['add', '-A']);
      await gitIn(['commit', '--quiet', '-m', 'chore: version 3.1.0']);
      // Nothing is published: the index is unreachable, and the releases are terminated below.
      const refConfig = parseConfig(
        `variants = []\n[repository]\nowner = "acme"\nname = "${name}"\nurl = "${repoDir}"\n[[packages]]\nname = "acme-ref"\npath = "."\n` +
          `[index]\nupload_url = "http://127.0.0.1:9/legacy/"\nsimple_url = "http://127.0.0.1:9/simple/"\noidc_url = "${mint.url}"\n` +
          (opts.indexAuth ? `auth = "${opts.indexAuth}"\n` : ''),
        'tagship.toml',
      );
      const refApp = await buildServer({
        client: refClient,
        target: refTarget(),
        configs: [refConfig],
        webhookSecret: SECRET,
        ciAuth: { issuer: issuer.issuer, audience: 'tagship', jwksUrl: issuer.jwksUrl, staticTokens: [hashToken(API_TOKEN)] },
        codec,
      });
      refApps.push(refApp);
      const refBase = await refApp.listen({ host: '127.0.0.1', port: 0 });
      const post = (auth: string | undefined, body: unknown) =>
        fetch(`${refBase}/api/releases`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          body: JSON.stringify(body),
        });
      const pushOf = (tag: string) => JSON.stringify({ ref: `refs/tags/${tag}`, created: true, deleted: false, repository: { full_name: `acme/${name}` } });
      const deliver = (body: string, delivery?: string) => deliverTo(refBase, 'push', body, sign(body), 'application/json', delivery);
      return { gitIn, post, pushOf, deliver, head: await gitIn(['rev-parse', 'HEAD']) };
    }

    const runsOf = async (workflowId: string) => {
      const runs: string[] = [];
      for await (const wf of refClient.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(`${wf.runId} ${wf.status.name}`);
      return runs;
    };

    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'tagship-server-ref-'));
      workerConnection = await NativeConnection.connect({ address: temporal.address });
      mint = await startMintServer({
        issuer: issuer.issuer,
        jwksUrl: issuer.jwksUrl,
        publisher: { repository: REPO, workflowFile: '.github/workflows/release.yml' },
        // Nothing is uploaded: the releases are terminated before they publish.
        indexUrl: 'http://127.0.0.1:9/',
        indexUsername: 'unused',
        indexPassword: 'unused',
      });
      worker = await createWorker(workerConnection, {
        namespace: temporal.namespace,
        taskQueue: 'server-ref-test',
        settings: { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts'), codec },
      });
      running = worker.run();
      refClient = await connectClient(refTarget());
    });
    after(async () => {
      for (const app of refApps) await app.close();
      for (const id of startedIds)
        await refClient?.workflow
          .getHandle(id)
          .terminate('test over')
          .catch(() => undefined);
      worker?.shutdown();
      await running?.catch(() => undefined);
      await workerConnection?.close();
      await refClient?.connection.close();
      await mint?.close();
      if (root) await rm(root, { recursive: true, force: true });
    });

    it('answers 202 under way once validate and preflight passed, with version, commit and checks; the PyPI token stays encrypted in history', async () => {
      const { gitIn, post, head } = await refServer('answer-ok');
      await gitIn(['tag', 'v3.1.0']);
      const pypiToken = await issuer.sign({ repository: REPO, ref: 'refs/tags/v2.0.0', workflowFile: '.github/workflows/release.yml', audience: 'pypi' });
      const res = await post(`Bearer ${API_TOKEN}`, { tag: 'v3.1.0', pypiOidcToken: pypiToken });
      assert.equal(res.status, 202, await res.clone().text());
      const body = (await res.json()) as { workflowId: string; checks: string[]; url: string };
      startedIds.push(body.workflowId);
      assert.deepEqual(
        { ...body, url: undefined, checks: undefined },
        { status: 'under-way', workflowId: 'release/acme/answer-ok/v3.1.0', tag: 'v3.1.0', version: '3.1.0', commit: head, url: undefined, checks: undefined },
      );
      assert.ok(Array.isArray(body.checks));
      const history = await refClient.workflow.getHandle(body.workflowId).fetchHistory();
      const accepted = history.events?.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
      assert.equal(accepted?.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name, 'startReleaseAndWait');
      const raw = JSON.stringify(await rawClient.workflow.getHandle(body.workflowId).fetchHistory());
      assert.ok(!raw.includes(pypiToken.split('.')[1]!) && !raw.includes(Buffer.from(pypiToken).toString('base64').slice(0, 40)), 'no token in stored history');
      // A re-run CI job asks the running release, which answers the same.
      const again = await post(`Bearer ${API_TOKEN}`, { tag: 'v3.1.0' });
      assert.equal(again.status, 202);
      assert.equal(((await again.json()) as { status: string }).status, 'under-way');
      assert.equal((await runsOf(body.workflowId)).length, 1);
    });

    it("answers 422 with the seed's message when the tag names another version than the packages", async () => {
      const { gitIn, post } = await refServer('answer-mismatch');
      await gitIn(['tag', 'v3.2.0']);
      const res = await post(`Bearer ${API_TOKEN}`, { tag: 'v3.2.0' });
      assert.equal(res.status, 422, await res.clone().text());
      const body = (await res.json()) as { status: string; type: string; error: string; workflowId: string };
      assert.deepEqual([body.status, body.type, body.workflowId], ['stopped', 'VersionMismatch', 'release/acme/answer-mismatch/v3.2.0']);
      assert.match(body.error, /ERROR: Tag version \(3\.2\.0\) doesn't match package version \(3\.1\.0\)/);
      await eventually(
        'the release to have failed',
        () => refClient.workflow.getHandle(body.workflowId).describe(),
        (d) => d.status.name === 'FAILED',
      );
    });

    it('answers 424 naming the check when preflight finds a destination that refuses; the release waits for an operator at preflight', async () => {
      const { gitIn, post } = await refServer('preflight-refused', { indexAuth: 'token' });
      await gitIn(['tag', 'v3.1.0']);
      const res = await post(`Bearer ${API_TOKEN}`, { tag: 'v3.1.0' });
      assert.equal(res.status, 424, await res.clone().text());
      const body = (await res.json()) as { status: string; type: string; step: string; error: string; workflowId: string };
      startedIds.push(body.workflowId);
      assert.deepEqual([body.status, body.type, body.step], ['stopped', 'PreflightFailed', 'preflight']);
      assert.match(body.error, /index upload/);
      assert.match(body.error, /index\.auth = "token" but this worker has no index credentials/);
      const status = await refClient.workflow.getHandle(body.workflowId).query(statusQuery);
      assert.deepEqual(
        status.steps.filter((s) => s.state === 'waiting-for-operator').map((s) => s.step),
        ['preflight'],
      );
    });

    it('never restarts an aborted release for a redelivered or copied delivery; an explicit start does', async () => {
      const { gitIn, post, pushOf, deliver } = await refServer('hook-abort');
      await gitIn(['tag', 'v3.1.0']);
      const delivery = randomBytes(8).toString('hex');
      const first = await deliver(pushOf('v3.1.0'), delivery);
      assert.equal(first.status, 202, await first.clone().text());
      const { workflowId } = (await first.json()) as { workflowId: string };
      startedIds.push(workflowId);
      assert.equal(workflowId, 'release/acme/hook-abort/v3.1.0');
      const handle = refClient.workflow.getHandle(workflowId);
      assert.equal((await handle.describe()).memo?.[DELIVERY_MEMO], delivery);
      // Still running: the same delivery again is recognised, and does nothing.
      const redelivered = await deliver(pushOf('v3.1.0'), delivery);
      assert.equal(redelivered.status, 200);
      assert.deepEqual(
        { ...((await redelivered.json()) as Record<string, unknown>), url: undefined },
        { status: 'already handled', workflowId, delivery, url: undefined },
      );
      await handle.executeUpdate(abortUpdate, { args: ['the wrong commit was tagged'] });
      await eventually(
        'the aborted release to have failed',
        () => handle.describe(),
        (d) => d.status.name === 'FAILED',
      );

      const afterAbort = await deliver(pushOf('v3.1.0'), delivery);
      assert.equal(afterAbort.status, 200, await afterAbort.clone().text());
      assert.equal(((await afterAbort.json()) as { status: string }).status, 'already handled');
      // A copy of the signed body under a new delivery id is not a way around it.
      const copied = await deliver(pushOf('v3.1.0'));
      assert.equal(copied.status, 200);
      const copiedBody = (await copied.json()) as { ignored: string; workflowId: string };
      assert.equal(copiedBody.workflowId, workflowId);
      assert.match(copiedBody.ignored, /has ended \(failed\); a webhook never starts an ended release again: run `tagship release start v3\.1\.0`/);
      assert.deepEqual(
        (await runsOf(workflowId)).map((r) => r.split(' ')[1]),
        ['FAILED'],
      );

      // Someone who means it starts it again.
      const restarted = await post(`Bearer ${API_TOKEN}`, { tag: 'v3.1.0' });
      assert.equal(restarted.status, 202, await restarted.clone().text());
      assert.equal(((await restarted.json()) as { status: string }).status, 'under-way');
      assert.deepEqual(
        (await runsOf(workflowId)).map((r) => r.split(' ')[1]),
        ['RUNNING', 'FAILED'],
      );
    });

    it('tags the branch with its version, pushes the tag and starts that release; asking again joins it', async () => {
      const { gitIn, post } = await refServer('ref-repo');
      const head = await gitIn(['rev-parse', 'HEAD']);
      const res = await post(`Bearer ${API_TOKEN}`, { ref: 'main' });
      assert.equal(res.status, 202, await res.clone().text());
      const body = (await res.json()) as { workflowId: string; tag: string; commit: string; tagCreated: boolean };
      startedIds.push(body.workflowId);
      assert.deepEqual(
        { ...body, url: undefined, checks: undefined },
        {
          status: 'under-way',
          workflowId: 'release/acme/ref-repo/v3.1.0',
          tag: 'v3.1.0',
          version: '3.1.0',
          commit: head,
          tagCreated: true,
          url: undefined,
          checks: undefined,
        },
      );
      assert.equal(await gitIn(['rev-parse', 'v3.1.0^{commit}']), head);
      const again = await post(`Bearer ${API_TOKEN}`, { ref: head });
      assert.equal(again.status, 202);
      assert.equal(((await again.json()) as { tagCreated: boolean }).tagCreated, false);
    });

    it('refuses a version already tagged at another commit (409), an unknown branch (404), and a body with both tag and ref (400)', async () => {
      const { gitIn, post } = await refServer('ref-taken');
      // 3.1.0 was tagged (and released) at this commit; main then moved on without a version bump.
      await gitIn(['tag', 'v3.1.0']);
      await gitIn(['commit', '--quiet', '--allow-empty', '-m', 'docs: no version bump']);
      const taken = await post(`Bearer ${API_TOKEN}`, { ref: 'main' });
      assert.equal(taken.status, 409);
      assert.match(((await taken.json()) as { error: string }).error, /tag v3\.1\.0 already exists at [0-9a-f]{12}, not at/);
      const unknown = await post(`Bearer ${API_TOKEN}`, { ref: 'release/9.x' });
      assert.equal(unknown.status, 404);
      assert.match(((await unknown.json()) as { error: string }).error, /branch release\/9\.x does not exist/);
      const both = await post(`Bearer ${API_TOKEN}`, { ref: 'main', tag: 'v3.1.0' });
      assert.equal(both.status, 400);
      assert.match(((await both.json()) as { error: string }).error, /give either "tag" or "ref"/);
      const dry = await post(`Bearer ${API_TOKEN}`, { ref: 'main', dryRun: true });
      assert.equal(dry.status, 400);
    });

    it("lets an OIDC token release only its job's own branch", async () => {
      const { post } = await refServer('ref-oidc');
      const token = await issuer.sign({
        repository: 'acme/ref-oidc',
        ref: 'refs/tags/v2.0.0',
        workflowFile: '.github/workflows/release.yml',
        audience: 'tagship',
      });
      const res = await post(`Bearer ${token}`, { ref: 'main' });
      assert.equal(res.status, 403);
      assert.match(((await res.json()) as { error: string }).error, /token was issued for refs\/tags\/v2\.0\.0, not refs\/heads\/main/);
    });
  });

  describe('CI start-release API with [ci] environment', () => {
    const PLAIN_REPO = 'Softoft-Orga/plain-repo';
    let envIssuer: Awaited<ReturnType<typeof startEnvironmentIssuer>>;
    let envApp: FastifyInstance;
    let envBase: string;
    const post = async (token: string, tag: string) => {
      const res = await fetch(`${envBase}/api/releases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ tag, dryRun: true }),
      });
      return { status: res.status, body: (await res.json()) as { error?: string; workflowId?: string } };
    };

    before(async () => {
      envIssuer = await startEnvironmentIssuer();
      // One repository whose trusted publisher names the environment "pypi", one without [ci] environment.
      const withEnv = parseConfig('[repository]\nowner = "Softoft-Orga"\nname = "open-ticket-ai"\n\n[ci]\nenvironment = "pypi"\n', 'tagship.toml');
      const plain = parseConfig('[repository]\nowner = "Softoft-Orga"\nname = "plain-repo"\n', 'plain.toml');
      envApp = await buildServer({
        client,
        target,
        configs: [withEnv, plain],
        webhookSecret: SECRET,
        ciAuth: { issuer: envIssuer.issuer, audience: 'tagship', jwksUrl: envIssuer.jwksUrl, staticTokens: [] },
        codec,
        bodyLimit: 64 * 1024,
        apiWaitMs: 1000,
      });
      envBase = await envApp.listen({ host: '127.0.0.1', port: 0 });
    });
    after(async () => {
      await envApp?.close();
      await envIssuer?.close();
    });

    it('refuses a token without an environment claim, or from another environment, with 403', async () => {
      const none = await post(await envIssuer.sign(REPO, 'v3.0.0'), 'v3.0.0');
      assert.equal(none.status, 403);
      assert.equal(none.body.error, 'token has no environment claim; the job must declare environment: pypi (ci.environment)');
      const other = await post(await envIssuer.sign(REPO, 'v3.0.0', 'staging'), 'v3.0.0');
      assert.equal(other.status, 403);
      assert.equal(other.body.error, 'token comes from environment "staging", not "pypi" (ci.environment)');
    });

    it('accepts a token from the configured environment (named in any case, as GitHub does)', async () => {
      for (const [environment, tag] of [
        ['pypi', 'v3.0.0'],
        ['PyPI', 'v3.0.1'],
      ] as const) {
        const res = await post(await envIssuer.sign(REPO, tag, environment), tag);
        assert.equal(res.status, 202, res.body.error);
        assert.equal(res.body.workflowId, `release/Softoft-Orga/open-ticket-ai/${tag}/dry-run`);
      }
    });

    it('checks no environment when [ci] environment is not set', async () => {
      for (const [environment, tag] of [
        [undefined, 'v3.1.0'],
        ['staging', 'v3.1.1'],
      ] as const) {
        const res = await post(await envIssuer.sign(PLAIN_REPO, tag, environment), tag);
        assert.equal(res.status, 202, res.body.error);
        assert.equal(res.body.workflowId, `release/${PLAIN_REPO}/${tag}/dry-run`);
      }
    });
  });

  describe('operations', () => {
    it('reports health and readiness', async () => {
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(((await ready.json()) as { temporal: string }).temporal, temporal.address);
    });

    it('decodes payloads for the Temporal UI only with the codec token, with CORS for the UI origin', async () => {
      // A release of its own, started as CI starts one: its input is encrypted in history.
      const started = await fetch(`${base}/api/releases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
        body: JSON.stringify({ tag: 'v2.2.0' }),
      });
      assert.equal(started.status, 202, await started.clone().text());
      const { workflowId } = (await started.json()) as { workflowId: string };
      const history = await rawClient.workflow.getHandle(workflowId).fetchHistory();
      const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      const payloads = [
        {
          metadata: Object.fromEntries(Object.entries(input.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(input.data!).toString('base64'),
        },
      ];
      const denied = await fetch(`${base}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payloads }),
      });
      assert.equal(denied.status, 401);
      const res = await fetch(`${base}/codec/default/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${CODEC_TOKEN}`, 'x-namespace': 'default', origin: 'http://127.0.0.1:8233' },
        body: JSON.stringify({ payloads }),
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8233');
      const decoded = (await res.json()) as { payloads: { data: string }[] };
      assert.equal(JSON.parse(Buffer.from(decoded.payloads[0]!.data, 'base64').toString()).tag, 'v2.2.0');
      const preflight = await fetch(`${base}/codec/decode`, {
        method: 'OPTIONS',
        headers: { origin: 'http://127.0.0.1:8233', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-namespace,content-type' },
      });
      assert.ok(preflight.status < 300);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
    });
  });
});

describe('tagship server while Temporal is down', { timeout: 5 * 60_000 }, () => {
  let root: string;
  let port: number;
  let client: Client;
  let app: FastifyInstance;
  let base: string;
  let spoolDir: string;
  let temporal: TemporalDevServer | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-server-down-'));
    spoolDir = join(root, 'server', 'webhook-spool');
    // Nobody listens here yet; the dev server is started on this port later.
    port = await freePort();
    const target: TemporalTarget = { address: `127.0.0.1:${port}`, namespace: 'default', taskQueue: 'server-down-test', uiUrl: 'http://127.0.0.1:8233' };
    client = new Client({ connection: Connection.lazy({ address: target.address }), namespace: target.namespace });
    app = await buildServer({
      client,
      target,
      configs: [parseConfig('[repository]\nowner = "Softoft-Orga"\nname = "open-ticket-ai"\n', 'tagship.toml')],
      webhookSecret: SECRET,
      ciAuth: { issuer: 'http://127.0.0.1:9', audience: 'tagship', jwksUrl: 'http://127.0.0.1:9/jwks', staticTokens: [] },
      webhookStartTimeoutMs: 1000,
      spool: { dir: spoolDir, retryInitialMs: 200, retryMaxMs: 2000, idleMs: 500 },
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
    await client?.connection.close();
    await temporal?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('keeps a tag push that arrives while Temporal is down, and starts its release once Temporal is back', async () => {
    const delivery = randomBytes(8).toString('hex');
    const res = await deliverTo(base, 'push', tagPush('v4.0.0'), undefined, undefined, delivery);
    assert.equal(res.status, 202, await res.clone().text());
    assert.deepEqual(await res.json(), { queued: true, delivery });
    assert.deepEqual(await readdir(spoolDir), [`${delivery}.json`]);

    temporal = await startTemporalDevServer({ port, headless: true, searchAttributes: SEARCH_ATTRIBUTE_TYPES });
    const workflowId = 'release/Softoft-Orga/open-ticket-ai/v4.0.0';
    const started = await eventually(
      'the queued delivery to start its release and leave the spool',
      async () => ({ description: await client.workflow.getHandle(workflowId).describe(), spool: await readdir(spoolDir) }),
      (s) => s.spool.length === 0,
      { timeoutMs: 180_000, intervalMs: 500, show: (s) => JSON.stringify({ status: s.description.status.name, spool: s.spool }) },
    );
    assert.equal(started.description.status.name, 'RUNNING');
    assert.equal(started.description.memo?.[DELIVERY_MEMO], delivery);
    // GitHub's redelivery of it now finds the release it started.
    const again = await deliverTo(base, 'push', tagPush('v4.0.0'), undefined, undefined, delivery);
    assert.equal(again.status, 200, await again.clone().text());
    assert.equal(((await again.json()) as { status: string }).status, 'already handled');
    await client.workflow.getHandle(workflowId).terminate('test over');
  });
});
