// What leaves a worker never carries a secret it knows: a publish whose upload fails with an index
// that echoes credentials back (as a misconfigured proxy or a build printing its environment
// would) fails with `[redacted]` where the index password, the Basic header of user:password, the
// OIDC token CI forwarded and the upload token minted from it were. The activities run through
// createActivities on real uv; only PyPI's OIDC endpoints and the refusing index are a local double.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure, type LogLevel, type LogMetadata } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { redactingLogger, registerSecret } from '../../activities/lib/redactor';
import type { WorkerSettings } from '../../activities/lib/settings';
import { parseConfig } from '../../src/config/load';
import { publishSlice } from '../../src/config/plan';
import type { PublishPackageInput } from '../../src/contract/activities';
import type { BuiltFile } from '../../src/contract/release';
import { buildTinyPackage, storeAll } from '../support/tiny-package';

const INDEX_USER = 'releaser';
const INDEX_PASSWORD = 'index-pw-7f3c9a1e55';
const BASIC = Buffer.from(`${INDEX_USER}:${INDEX_PASSWORD}`).toString('base64');
const MINTED = 'pypi-minted-AgEIcHlwaS5vcmcCJDk0ZTg';
const FORWARDED = 'eyJhbGciOiJSUzI1NiJ9.forwarded-by-ci.c2lnbmF0dXJl';
const SECRETS = [INDEX_PASSWORD, BASIC, MINTED, Buffer.from(`__token__:${MINTED}`).toString('base64'), FORWARDED, encodeURIComponent(INDEX_PASSWORD)];

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Every log line the worker's logger got, as text. */
class CapturingLogger extends DefaultLogger {
  readonly lines: string[] = [];
  constructor() {
    super('TRACE', () => undefined);
  }
  override log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const err = meta?.error as Error | undefined;
    this.lines.push(
      `${level} ${message} ${err ? `${err.message}\n${err.stack}` : ''} ${JSON.stringify(meta ?? {}, (_k, v: unknown) => (v instanceof Error ? v.message : v))}`,
    );
  }
}

function assertClean(what: string, text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${what} holds a secret (${secret.slice(0, 6)}…):\n${text}`);
}

describe('secrets in what leaves the worker', () => {
  let root: string;
  let double: Server;
  let base: string;
  let mode: 'mint' | 'refuse-mint' = 'mint';
  let files: BuiltFile[];
  let settings: WorkerSettings;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-redaction-'));
    settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts'), index: { username: INDEX_USER, password: INDEX_PASSWORD } };
    files = await storeAll(settings, await buildTinyPackage(root, 'redaction-probe', '1.0.0', 'probe'));
    double = createServer((req, res) => {
      void (async () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const text = await body(req);
        if (path === '/_/oidc/audience') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"audience":"pypi"}');
        if (path === '/_/oidc/mint-token') {
          if (mode === 'mint') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: MINTED }));
          // An exchange refused with error codes and descriptions that quote the worker's credentials.
          const errors = [
            { code: `bad-password-${INDEX_PASSWORD}`, description: `Authorization: Basic ${BASIC}, token ${(JSON.parse(text) as { token: string }).token}` },
          ];
          return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Token request failed', errors }));
        }
        if (path.startsWith('/simple/')) return void res.writeHead(404).end();
        // The upload: refused, echoing what a careless server or proxy would.
        res
          .writeHead(400, { 'content-type': 'text/plain' })
          .end(
            `refused: Authorization ${req.headers.authorization} (token ${MINTED}); forwarded ${FORWARDED}; ` +
              `worker index login ${INDEX_USER}:${INDEX_PASSWORD} = Basic ${BASIC}; url-encoded ${encodeURIComponent(INDEX_PASSWORD)}`,
          );
      })();
    });
    await new Promise<void>((r) => double.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(double.address() as { port: number }).port}`;
  });

  after(async () => {
    double?.close();
    await rm(root, { recursive: true, force: true });
  });

  // Each test forwards its own ID token: the worker keeps the upload token minted from one.
  function publishInput(oidcToken = FORWARDED): PublishPackageInput {
    const config = parseConfig(
      `[index]\nupload_url = "${base}/legacy/"\nsimple_url = "${base}/simple/"\nauth = "trusted-publishing"\noidc_url = "${base}/"\n`,
      'tagship.toml',
    );
    return { config: publishSlice(config), package: 'redaction-probe', version: '1.0.0', files, oidcToken };
  }

  it('a refused upload shows none of the index password, its Basic header, the forwarded OIDC token or the minted token', async () => {
    mode = 'mint';
    const logger = new CapturingLogger();
    const env = new MockActivityEnvironment(undefined, { logger });
    const err = await env
      .run((input: PublishPackageInput) => createActivities(settings).publishPackage(input), publishInput())
      .then(
        () => assert.fail('the upload was refused, the step must fail'),
        (e: unknown) => e as Error,
      );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'IndexRejected');
    // The index's answer is still there for the operator, with the secrets cut out of it.
    assert.match(err.message, /refused: Authorization Basic \[redacted\]/);
    assert.match(err.message, /worker index login releaser:\[redacted\] = Basic \[redacted\]/);
    assertClean('the failure message', err.message);
    assertClean('the failure stack', err.stack ?? '');
    assertClean('the worker log', logger.lines.join('\n'));
    assert.ok(
      logger.lines.some((l) => l.includes('Activity failed')),
      'the worker logged the failure',
    );
  });

  it("a refused token exchange keeps the secrets out of the failure's details too", async () => {
    mode = 'refuse-mint';
    const env = new MockActivityEnvironment();
    const err = await env
      .run((input: PublishPackageInput) => createActivities(settings).publishPackage(input), publishInput(`${FORWARDED}-refused`))
      .then(
        () => assert.fail('the exchange was refused, the step must fail'),
        (e: unknown) => e as Error,
      );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'TrustedPublishingRefused');
    assert.deepEqual(err.details, [{ codes: ['bad-password-[redacted]'] }]);
    assert.match(err.message, /Authorization: Basic \[redacted\], token \[redacted\]/);
    assertClean('the failure message', err.message);
  });

  it('an error from deeper down keeps its class and loses the secrets along its whole cause chain, heartbeats included', async () => {
    // What lib code does when it learns a token (trusted-publishing.ts on a mint), then a failure
    // that wraps a library error wrapping a child's output: every level is what leaves the worker.
    const child = Object.assign(new Error(`uv: 403 for ${INDEX_USER}:${INDEX_PASSWORD}`), { stderr: `Authorization: Basic ${BASIC}` });
    const wrapped = new Error(`upload with token ${MINTED} failed`, { cause: child });
    const failure = ApplicationFailure.create({ type: 'IndexRejected', message: `index said Basic ${BASIC}`, details: [{ echoed: MINTED }], cause: wrapped });
    const cancelled = new CancelledFailure(`cancelled while holding ${MINTED}`);
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const run = (thrown: Error) =>
      env.run(() =>
        // The factory's wall, as createActivities puts it around every entry point.
        (createActivities(settings) as unknown as Record<string, (i: unknown) => Promise<unknown>>).waitUntilVisible!({
          config: { index: { simple_url: `${base}/simple/` } },
          package: 'redaction-probe',
          files: [],
          // Read inside the call, where an entry point's own code would run.
          get pollIntervalMs(): number {
            registerSecret(MINTED, '__token__');
            env.context.heartbeat(`uploading with ${MINTED}`);
            throw thrown;
          },
        }),
      );
    const err = await run(failure).then(
      () => assert.fail('must fail'),
      (e: unknown) => e,
    );
    assert.equal(err, failure, 'the same failure object, redacted in place');
    assert.equal(failure.type, 'IndexRejected');
    assert.equal(failure.message, 'index said Basic [redacted]');
    assert.deepEqual(failure.details, [{ echoed: '[redacted]' }]);
    assert.equal(wrapped.message, 'upload with token [redacted] failed');
    assert.equal(child.message, `uv: 403 for ${INDEX_USER}:[redacted]`);
    assert.equal(child.stderr, 'Authorization: Basic [redacted]');
    for (const e of [failure, wrapped, child]) assertClean('a stack', e.stack ?? '');
    assert.deepEqual(heartbeats, ['uploading with [redacted]']);
    const cancel = await run(cancelled).then(
      () => assert.fail('must fail'),
      (e: unknown) => e,
    );
    assert.ok(cancel instanceof CancelledFailure, 'a cancellation stays a cancellation');
    assert.equal(cancel.message, 'cancelled while holding [redacted]');
  });

  it("redacts the worker's own log lines, outside any activity call, with redactingLogger", () => {
    createActivities(settings);
    const logger = new CapturingLogger();
    redactingLogger(logger).warn(`poll failed for ${INDEX_USER}:${INDEX_PASSWORD}`, { header: `Basic ${BASIC}`, error: new Error(`pw ${INDEX_PASSWORD}`) });
    assert.equal(logger.lines.length, 1);
    assertClean('the log line', logger.lines[0]!);
    assert.match(logger.lines[0]!, /poll failed for releaser:\[redacted\]/);
  });
});
