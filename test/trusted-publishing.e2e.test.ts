// A whole release by trusted publishing: CI's start-release signal forwards an expired OIDC token,
// the publish steps wait for a fresh one, an `oidcToken` signal delivers it, the release finishes.
// Afterwards neither token is anywhere in the stored history or in the worker's logs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import type { TagshipConfig } from '../src/config/schema';
import { signalStartRelease } from '../src/client/start';
import type { ReleaseSummary } from '../src/contract/release';
import { oidcTokenSignal } from '../src/contract/messages';
import { startMintServer, type MintServer } from './support/pypi-mint-server';
import { startOidcIssuer, type OidcIssuer } from './support/oidc-issuer';
import { eventually } from './support/eventually';
import { startReleaseEnv, type ReleaseEnv } from './support/release-env';

const logs: string[] = [];
Runtime.install({ logger: new DefaultLogger('DEBUG', (entry: LogEntry) => logs.push(`${entry.message} ${JSON.stringify(entry.meta ?? {})}`)) });

const REPO = 'Softoft-Orga/open-ticket-ai';
const WORKFLOW = '.github/workflows/release.yml';

describe('release by trusted publishing', { timeout: 10 * 60_000 }, () => {
  let env: ReleaseEnv;
  let issuer: OidcIssuer;
  let mint: MintServer;
  let config: TagshipConfig;

  before(async () => {
    env = await startReleaseEnv('1.0.18');
    issuer = await startOidcIssuer({ repository: REPO, ref: 'refs/tags/v1.0.18', workflowFile: WORKFLOW });
    mint = await startMintServer({
      issuer: issuer.issuer,
      jwksUrl: issuer.jwksUrl,
      publisher: { repository: REPO, workflowFile: WORKFLOW },
      indexUrl: env.stack.index.uploadUrl,
      indexUsername: env.stack.index.username,
      indexPassword: env.stack.index.password,
    });
    config = {
      ...env.config,
      index: { ...env.config.index, auth: 'trusted-publishing', upload_url: mint.url, oidc_url: mint.url },
      timeouts: { ...env.config.timeouts, token_wait: '5m' },
    };
  });
  after(async () => {
    await mint?.close();
    await issuer?.close();
    await env?.stop();
  });

  it('waits for a fresh token, then publishes with it; no token is ever stored or logged', async () => {
    const claims = { repository: REPO, ref: 'refs/tags/v1.0.18', workflowFile: WORKFLOW, audience: 'pypi' };
    const expired = await issuer.sign({ ...claims, expiresInSeconds: -30 });
    const started = await signalStartRelease(env.client, env.target, config, { tag: 'v1.0.18', pypiOidcToken: expired });

    // The publish steps report the expired token and the workflow waits instead of failing.
    const expiredFailures = (events: NonNullable<Awaited<ReturnType<typeof started.handle.fetchHistory>>['events']>) =>
      events.filter(
        (e) =>
          e.activityTaskFailedEventAttributes?.failure?.cause?.applicationFailureInfo?.type === 'OidcTokenExpired' ||
          e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type === 'OidcTokenExpired',
      );
    await eventually(
      'all three publish steps failing with OidcTokenExpired (then waiting for a token)',
      async () => (await started.handle.fetchHistory()).events ?? [],
      (events) => expiredFailures(events).length === 3,
      { timeoutMs: 120_000, intervalMs: 300, show: (events) => `${expiredFailures(events).length} OidcTokenExpired failures in ${events.length} events` },
    );
    assert.equal((await started.handle.describe()).status.name, 'RUNNING');
    assert.equal(mint.uploads.length, 0, 'nothing was uploaded without a valid token');

    const fresh = await issuer.sign(claims);
    await started.handle.signal(oidcTokenSignal, { token: fresh });
    const summary = (await started.handle.result()) as ReleaseSummary;
    assert.equal(summary.packages.flatMap((p) => p.uploaded).length, 6);
    assert.equal(summary.images.length, 4);
    // PyPI takes an ID token once: the fresh token is exchanged once and serves every package.
    assert.equal(mint.mints.filter((m) => m.ok).length, 1);
    assert.ok(!mint.mints.some((m) => m.codes.includes('invalid-reuse-token')), 'no ID token was offered twice');
    assert.ok(mint.uploads.every((s) => s === 200));

    const raw = new Client({ connection: await Connection.connect({ address: env.target.address }), namespace: env.target.namespace });
    try {
      const stored = JSON.stringify(await raw.workflow.getHandle(started.workflowId).fetchHistory());
      for (const token of [expired, fresh]) {
        const signature = token.split('.')[2]!;
        assert.ok(!stored.includes(signature), 'token signature is not in stored history');
        assert.ok(!stored.includes(Buffer.from(token).toString('base64').slice(8, 60)), 'token is not in stored history as base64');
      }
      // Failure types stay readable for operators; their messages (which quote claims) are encrypted.
      assert.ok(stored.includes('OidcTokenExpired'));
      assert.ok(!stored.includes('no usable OIDC token'), 'failure messages are encrypted too');
    } finally {
      await raw.connection.close();
    }
    assert.ok(logs.length > 0, 'the worker logged');
    for (const token of [expired, fresh]) assert.ok(!logs.some((l) => l.includes(token.split('.')[2]!)), 'no token in worker logs');
  });
});
