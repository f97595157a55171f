// The parts of `tagship server` that answer before any release starts, so they need no Temporal:
// webhook signatures (against GitHub's published test vector too), deliveries that are ignored,
// CI requests refused for their token or body, and what a delivery gets while Temporal cannot be
// reached (kept in the spool, or refused when there is none or it is full). The server is the
// real one (buildServer); its Temporal client never connects (a lazy connection to a closed
// port), and requests go through fastify's inject. What starts releases is in
// test/server.test.ts, against the real dev server.
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { parseConfig } from '../../src/config/load';
import { hashToken } from '../../src/server/ci-auth';
import { buildServer, type ServerOptions } from '../../src/server/app';
import { lazyClient, serverSettingsFromEnv } from '../../src/server/server-settings';
import { eventually } from '../support/eventually';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer';

const SECRET = `whsec-${randomBytes(8).toString('hex')}`;
const API_TOKEN = `tsk-${randomBytes(12).toString('hex')}`;
const REPO = 'Softoft-Orga/open-ticket-ai';

function sign(body: string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function tagPush(tag: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ref: `refs/tags/${tag}`, created: true, deleted: false, repository: { full_name: REPO }, ...extra });
}

describe('tagship server, before anything starts', () => {
  let client: Client;
  let issuer: OidcIssuer;
  const apps: FastifyInstance[] = [];
  const target = { address: '127.0.0.1:9', namespace: 'default', taskQueue: 'unit', uiUrl: 'http://127.0.0.1:8233' };
  const config = parseConfig('[repository]\nowner = "Softoft-Orga"\nname = "open-ticket-ai"\n', 'tagship.toml');

  async function server(webhookSecret = SECRET, more: Partial<ServerOptions> = {}): Promise<FastifyInstance> {
    const app = await buildServer({
      client,
      target,
      configs: [config],
      webhookSecret,
      ciAuth: { issuer: issuer.issuer, audience: 'tagship', jwksUrl: issuer.jwksUrl, staticTokens: [hashToken(API_TOKEN)] },
      bodyLimit: 64 * 1024,
      // Port 9 refuses at once; the SDK would retry that for half a minute.
      webhookStartTimeoutMs: 300,
      ...more,
    });
    apps.push(app);
    return app;
  }

  let app: FastifyInstance;
  // signature: null sends none at all; delivery: null no X-GitHub-Delivery.
  const deliver = (
    event: string,
    body: string,
    signature: string | null = sign(body),
    contentType = 'application/json',
    to = app,
    delivery: string | null = randomBytes(8).toString('hex'),
  ) =>
    to.inject({
      method: 'POST',
      url: '/webhooks/github',
      headers: {
        'content-type': contentType,
        'x-github-event': event,
        ...(delivery !== null ? { 'x-github-delivery': delivery } : {}),
        ...(signature ? { 'x-hub-signature-256': signature } : {}),
      },
      payload: body,
    });

  before(async () => {
    // Nothing listens on port 9: a request that reached Temporal would fail the test with a 500.
    client = lazyClient(target);
    issuer = await startOidcIssuer({ repository: REPO, ref: 'refs/tags/v2.0.0', workflowFile: '.github/workflows/release.yml' });
    app = await server();
  });
  after(async () => {
    for (const a of apps) await a.close();
    await issuer?.close();
    await client?.connection.close();
  });

  describe('webhook signatures', () => {
    it("accepts a delivery signed as in GitHub's published test vector", async () => {
      // From GitHub's "Validating webhook deliveries": secret "It's a Secret to Everybody", body "Hello, World!".
      const vector = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
      const github = await server("It's a Secret to Everybody");
      const accepted = await deliver('push', 'Hello, World!', vector, 'application/json', github);
      // Past the signature check: the body is then refused as what it is, not JSON.
      assert.equal(accepted.statusCode, 400, accepted.body);
      assert.match(accepted.json<{ error: string }>().error, /not valid JSON/);
      const altered = `${vector.slice(0, -1)}${vector.endsWith('7') ? '8' : '7'}`;
      assert.equal((await deliver('push', 'Hello, World!', altered, 'application/json', github)).statusCode, 401);
    });

    it('answers 401 to a missing, malformed or wrong signature before reading the body', async () => {
      const body = tagPush('v1.0.0');
      for (const sig of [null, 'sha256=', 'sha1=abc', sign(body, 'wrong-secret'), sign(`${body} `)]) {
        const res = await deliver('push', body, sig);
        assert.equal(res.statusCode, 401, `signature ${sig}`);
      }
      const garbage = await deliver('push', '{not json', 'sha256=00');
      assert.equal(garbage.statusCode, 401, 'a bad signature wins over bad JSON');
    });

    it('answers 400 to a signed body that is not JSON, 415 to a form-encoded delivery', async () => {
      assert.equal((await deliver('push', 'Hello, World!')).statusCode, 400);
      assert.equal((await deliver('push', 'payload=%7B%7D', sign('payload=%7B%7D'), 'application/x-www-form-urlencoded')).statusCode, 415);
    });

    it('refuses a body over the limit with 413', async () => {
      const big = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
      assert.equal((await deliver('push', big)).statusCode, 413);
    });
  });

  describe('webhook events', () => {
    it('pongs a ping', async () => {
      const res = await deliver('ping', JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 }));
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { ok: true, pong: true });
    });

    it('ignores, with a reason, what is not a created v*.*.* tag of a configured repository', async () => {
      const cases: [string, string, RegExp][] = [
        ['push', JSON.stringify({ ref: 'refs/heads/main', created: false, repository: { full_name: REPO } }), /refs\/heads\/main is not a tag/],
        ['push', tagPush('nightly'), /does not match v\*\.\*\.\*/],
        ['push', tagPush('v1.0.0', { deleted: true, created: false }), /was deleted/],
        ['push', tagPush('v1.0.0', { repository: { full_name: 'other/repo' } }), /other\/repo is not configured/],
        ['issues', JSON.stringify({ action: 'opened' }), /event "issues" is not a push/],
      ];
      for (const [event, body, reason] of cases) {
        const res = await deliver(event, body);
        assert.equal(res.statusCode, 200);
        assert.match(res.json<{ ignored: string }>().ignored, reason);
      }
    });
  });

  describe('webhook deliveries while Temporal is unreachable', () => {
    const spools: string[] = [];
    after(async () => {
      for (const dir of spools) await rm(dir, { recursive: true, force: true });
    });
    /** A server with a spool of its own under a fresh directory; its drain keeps failing against port 9. */
    async function spooling(limit?: number) {
      const root = await mkdtemp(join(tmpdir(), 'tagship-spool-'));
      spools.push(root);
      const dir = join(root, 'server', 'webhook-spool');
      const spoolApp = await server(SECRET, { spool: { dir, ...(limit !== undefined ? { limit } : {}), retryInitialMs: 50, retryMaxMs: 200 } });
      const files = async () => (await readdir(dir)).filter((f) => !f.startsWith('.'));
      return { app: spoolApp, dir, files };
    }

    it('keeps a signed tag push in the spool (0700 directory, one 0600 file per delivery) and answers 202 queued', async () => {
      const { app: spoolApp, dir, files } = await spooling();
      const delivery = randomUUID();
      const res = await deliver('push', tagPush('v1.0.7'), undefined, 'application/json', spoolApp, delivery);
      assert.equal(res.statusCode, 202, res.body);
      assert.deepEqual(res.json(), { queued: true, delivery });
      assert.deepEqual(await files(), [`${delivery}.json`]);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      const file = join(dir, `${delivery}.json`);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      const kept = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      assert.deepEqual({ ...kept, receivedAt: undefined }, { delivery, repository: REPO, tag: 'v1.0.7', receivedAt: undefined });
      // GitHub's redelivery (same id) finds it queued; nothing is queued twice.
      const again = await deliver('push', tagPush('v1.0.7'), undefined, 'application/json', spoolApp, delivery);
      assert.equal(again.statusCode, 202);
      assert.deepEqual(again.json(), { queued: true, delivery });
      assert.deepEqual(await files(), [`${delivery}.json`]);
    });

    it('spools only what is validly signed and starts a release', async () => {
      const { app: spoolApp, files } = await spooling();
      const body = tagPush('v1.0.8');
      assert.equal((await deliver('push', body, sign(body, 'wrong-secret'), 'application/json', spoolApp)).statusCode, 401);
      assert.equal((await deliver('push', tagPush('v1.0.8', { deleted: true, created: false }), undefined, 'application/json', spoolApp)).statusCode, 200);
      assert.equal((await deliver('push', tagPush('nightly'), undefined, 'application/json', spoolApp)).statusCode, 200);
      const anonymous = await deliver('push', body, undefined, 'application/json', spoolApp, null);
      assert.equal(anonymous.statusCode, 400);
      assert.match(anonymous.json<{ error: string }>().error, /X-GitHub-Delivery/);
      assert.equal((await deliver('push', body, undefined, 'application/json', spoolApp, '../../etc/passwd')).statusCode, 400);
      assert.deepEqual(await files(), []);
    });

    it('answers 503 when the spool is full, so GitHub shows the delivery as failed', async () => {
      const { app: spoolApp, files } = await spooling(1);
      assert.equal((await deliver('push', tagPush('v1.0.9'), undefined, 'application/json', spoolApp)).statusCode, 202);
      const refused = await deliver('push', tagPush('v1.0.10'), undefined, 'application/json', spoolApp);
      assert.equal(refused.statusCode, 503);
      assert.match(refused.json<{ error: string }>().error, /Temporal is unreachable and the webhook spool holds 1 deliveries.*redeliver/);
      assert.equal((await files()).length, 1);
    });

    it('sets a spool file that does not parse aside and keeps the rest', async () => {
      const { app: spoolApp, dir, files } = await spooling();
      await writeFile(join(dir, 'garbage.json'), '{"delivery": 1}', { mode: 0o600 });
      assert.equal((await deliver('push', tagPush('v1.0.11'), undefined, 'application/json', spoolApp)).statusCode, 202);
      const left = await eventually('the drain to set garbage.json aside', files, (names) => names.includes('garbage.json.invalid'));
      assert.equal(left.filter((f) => f.endsWith('.json')).length, 1, left.join(', '));
    });

    it('answers 503, not 500, without a spool, and to CI', async () => {
      const res = await deliver('push', tagPush('v1.0.12'));
      assert.equal(res.statusCode, 503);
      assert.match(res.json<{ error: string }>().error, /Temporal at 127\.0\.0\.1:9 is unreachable/);
      const ci = await app.inject({
        method: 'POST',
        url: '/api/releases',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
        payload: JSON.stringify({ tag: 'v1.0.12' }),
      });
      assert.equal(ci.statusCode, 503, ci.body);
    });
  });

  describe('server settings', () => {
    it('puts the spool under TAGSHIP_HOME, lets a flag or TAGSHIP_WEBHOOK_SPOOL name it, and bounds the numbers', () => {
      const defaults = serverSettingsFromEnv({ TAGSHIP_HOME: '/srv/tagship' });
      assert.deepEqual(defaults, { spool: { dir: '/srv/tagship/webhook-spool', limit: 1000 }, apiWaitMs: 600_000 });
      const set = serverSettingsFromEnv({ TAGSHIP_WEBHOOK_SPOOL: '/var/spool/tagship', TAGSHIP_WEBHOOK_SPOOL_LIMIT: '50', TAGSHIP_API_WAIT_SECONDS: '120' });
      assert.deepEqual(set, { spool: { dir: '/var/spool/tagship', limit: 50 }, apiWaitMs: 120_000 });
      assert.equal(serverSettingsFromEnv({ TAGSHIP_WEBHOOK_SPOOL: '/var/spool/tagship' }, '/flag/dir').spool.dir, '/flag/dir');
      for (const [name, value] of [
        ['TAGSHIP_API_WAIT_SECONDS', '0'],
        ['TAGSHIP_API_WAIT_SECONDS', '3601'],
        ['TAGSHIP_WEBHOOK_SPOOL_LIMIT', '1e3'],
        ['TAGSHIP_WEBHOOK_SPOOL_LIMIT', '-5'],
      ] as const) {
        assert.throws(() => serverSettingsFromEnv({ [name]: value }), new RegExp(`${name}=${value.replace('+', '\\+')} must be a whole number`));
      }
    });
  });

  describe('CI start-release API', () => {
    const post = (auth: string | undefined, body: unknown) =>
      app.inject({
        method: 'POST',
        url: '/api/releases',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        payload: JSON.stringify(body),
      });
    const ciToken = (overrides: Partial<{ repository: string; ref: string; workflowFile: string; audience: string; expiresInSeconds: number }> = {}) =>
      issuer.sign({ repository: REPO, ref: 'refs/tags/v2.0.0', workflowFile: '.github/workflows/release.yml', audience: 'tagship', ...overrides });

    it('rejects tokens for another repository, tag or workflow, and expired ones', async () => {
      const cases: [string, number, RegExp][] = [
        [await ciToken({ repository: 'evil/fork' }), 404, /evil\/fork is not configured/],
        [await ciToken({ ref: 'refs/heads/main' }), 403, /issued for refs\/heads\/main, not refs\/tags\/v2\.0\.0/],
        [await ciToken({ workflowFile: '.github/workflows/other.yml' }), 403, /not \.github\/workflows\/release\.yml \(ci\.workflow\)/],
        [await ciToken({ expiresInSeconds: -60 }), 401, /OIDC token rejected/],
        [await ciToken({ audience: 'pypi' }), 401, /OIDC token rejected/],
      ];
      for (const [token, status, message] of cases) {
        const res = await post(`Bearer ${token}`, { tag: 'v2.0.0' });
        assert.equal(res.statusCode, status);
        const { error } = res.json<{ error: string }>();
        assert.match(error, message);
        assert.ok(!error.includes(token));
      }
    });

    it('names what is wrong with a bad request body', async () => {
      const bad = await post(`Bearer ${API_TOKEN}`, { tag: 'v2.1.0', extra: 1 });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json<{ error: string }>().error, /Unrecognized key.*extra/i);
      const tag = await post(`Bearer ${API_TOKEN}`, { tag: '2.1.0' });
      assert.equal(tag.statusCode, 400);
      assert.match(tag.json<{ error: string }>().error, /Tag '2\.1\.0' does not match v\*\.\*\.\*/);
    });
  });
});
