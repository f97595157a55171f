// `tagship server`: GitHub's tag-push webhook, CI's start-release API, health probes and the
// codec endpoint for the Temporal UI, on one fastify instance.
//
// Webhook deliveries are remembered by their X-GitHub-Delivery id in two places, each where it is
// durable without another store: a delivery that started a release is in that release's memo (and
// the id reuse policy keeps any delivery from restarting an ended release; src/client/start.ts),
// and a delivery accepted while Temporal was unreachable is a file in the spool directory
// (./delivery-spool.ts) until the drain (./spool-drain.ts) has started it. Temporal forgets a
// closed release after the namespace's retention; GitHub offers redelivery for 3 days, so keep the
// retention longer than that.
import { verify } from '@octokit/webhooks-methods';
import type { FastifyInstance } from 'fastify';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { TagshipConfig } from '../config/schema';
import type { KeyRing } from '../codec/encryption-codec';
import {
  InvalidTagError,
  ReleaseAlreadyDoneError,
  startReleaseFromWebhook,
  startReleaseUnderWay,
  TagRefError,
  tagFromRef,
  type WebhookStart,
} from '../client/start';
import { workflowUiLink, type TemporalTarget } from '../client/connect';
import { CiAuthError, createCiAuth, hashToken, oidcMismatch, type CiAuthOptions } from './ci-auth';
import { registerCodecRoutes } from './codec-routes';
import { DeliverySpool, deliveryId, SpoolFullError, type SpooledDelivery } from './delivery-spool';
import { createHttpApp, parseJsonBody } from './http-app';
import { underWayAnswer } from './release-answers';
import { startSpoolDrain, type SpoolDrainOptions } from './spool-drain';
import { temporalUnreachable } from './temporal-unreachable';
import { decideWebhook, repoKey } from './webhook';

export interface ServerOptions {
  readonly client: Client;
  readonly target: TemporalTarget;
  readonly configs: readonly TagshipConfig[];
  readonly webhookSecret?: string;
  readonly ciAuth: CiAuthOptions;
  /** Payload keys; required to accept forwarded OIDC tokens (they must not rest in history in the clear). */
  readonly codec?: KeyRing;
  readonly codecCorsOrigins?: readonly string[];
  /** sha256 hashes of bearer tokens allowed to use the codec endpoint; none = codec endpoint off. */
  readonly codecTokens?: readonly string[];
  readonly bodyLimit?: number;
  readonly logger?: boolean;
  /**
   * Where deliveries that arrive while Temporal is unreachable wait for it (a directory, created
   * 0700); without it such a delivery is answered 503, for GitHub to show as failed.
   */
  readonly spool?: { readonly dir: string; readonly limit?: number } & Pick<SpoolDrainOptions, 'retryInitialMs' | 'retryMaxMs' | 'idleMs'>;
  /** How long a webhook delivery may try Temporal before it is spooled (default 5 s; GitHub gives up after 10 s). */
  readonly webhookStartTimeoutMs?: number;
  /** How long `POST /api/releases` waits for validate and preflight before answering `starting` (default 10 min). */
  readonly apiWaitMs?: number;
}

const DEFAULT_WEBHOOK_START_TIMEOUT_MS = 5000;

const releaseRequest = z
  .object({
    tag: z.string().min(1).max(128).optional(),
    // A branch or commit to release without a tag: tagship tags it v<version> and pushes the tag.
    ref: z.string().min(1).max(255).optional(),
    // With ref, when every package takes its version from the tag.
    version: z.string().min(1).max(64).optional(),
    repository: z
      .string()
      .regex(/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/)
      .optional(),
    dryRun: z.boolean().optional(),
    pypiOidcToken: z.string().min(1).max(16_384).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.tag === undefined) === (r.ref === undefined)) ctx.addIssue({ code: 'custom', message: 'give either "tag" or "ref"' });
    if (r.ref !== undefined && r.dryRun)
      ctx.addIssue({ code: 'custom', path: ['dryRun'], message: 'a dry run needs an existing tag; "ref" creates and pushes one' });
    if (r.version !== undefined && r.ref === undefined)
      ctx.addIssue({ code: 'custom', path: ['version'], message: 'goes with "ref"; a tag names its own version' });
  });

// What a refused tagging means for the caller: its request conflicts with the repository, or is malformed.
const TAG_REF_STATUS: Readonly<Record<string, number>> = {
  TagExists: 409,
  RefMoved: 409,
  VersionMismatch: 422,
  VersionMissing: 422,
  InvalidRef: 400,
  InvalidVersion: 400,
  RefNotFound: 404,
};

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = await createHttpApp({
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    corsOrigins: opts.codecCorsOrigins ?? [opts.target.uiUrl],
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
  });
  const repos = new Map(opts.configs.map((c) => [repoKey(`${c.repository.owner}/${c.repository.name}`), c]));
  const authenticate = createCiAuth(opts.ciAuth);
  const link = (workflowId: string) => workflowUiLink(opts.target, workflowId);
  const webhookTimeout = opts.webhookStartTimeoutMs ?? DEFAULT_WEBHOOK_START_TIMEOUT_MS;
  const webhookStart = (config: TagshipConfig, tag: string, delivery: string) =>
    opts.client.withDeadline(Date.now() + webhookTimeout, () => startReleaseFromWebhook(opts.client, opts.target, config, tag, delivery));

  const spool = opts.spool ? await DeliverySpool.open(opts.spool.dir, opts.spool.limit) : undefined;
  const drain = spool
    ? startSpoolDrain({
        spool,
        log: app.log,
        ...(opts.spool?.retryInitialMs !== undefined ? { retryInitialMs: opts.spool.retryInitialMs } : {}),
        ...(opts.spool?.retryMaxMs !== undefined ? { retryMaxMs: opts.spool.retryMaxMs } : {}),
        ...(opts.spool?.idleMs !== undefined ? { idleMs: opts.spool.idleMs } : {}),
        start: async (entry: SpooledDelivery) => {
          const config = repos.get(repoKey(entry.repository));
          if (!config) return `not started: repository ${entry.repository} is no longer configured on this server`;
          return spooledOutcome(await webhookStart(config, entry.tag, entry.delivery), entry.tag);
        },
      })
    : undefined;
  if (drain) app.addHook('onClose', () => drain.stop());

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await opts.client.connection.withDeadline(Date.now() + 3000, () => opts.client.workflowService.getSystemInfo({}));
      return { ok: true, temporal: opts.target.address };
    } catch (err) {
      return reply.code(503).send({ ok: false, temporal: opts.target.address, error: (err as Error).message });
    }
  });

  app.post('/webhooks/github', async (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const signature = req.headers['x-hub-signature-256'];
    if (!opts.webhookSecret) return reply.code(503).send({ error: 'webhooks are off: TAGSHIP_WEBHOOK_SECRET is not set' });
    const valid = typeof signature === 'string' && (await verify(opts.webhookSecret, raw.toString('utf8'), signature).catch(() => false));
    if (!valid) return reply.code(401).send({ error: 'invalid or missing X-Hub-Signature-256' });
    const contentType = String(req.headers['content-type'] ?? '');
    if (!contentType.startsWith('application/json')) {
      return reply.code(415).send({ error: 'configure the webhook with content type application/json' });
    }
    const body = parseJsonBody(raw);
    if (!body.ok) return reply.code(400).send({ error: 'body is not valid JSON' });
    const event = req.headers['x-github-event'];
    const decision = decideWebhook(typeof event === 'string' ? event : undefined, body.value, repos);
    switch (decision.kind) {
      case 'pong':
        return reply.code(200).send({ ok: true, pong: true });
      case 'ignore':
        return reply.code(200).send({ ignored: decision.reason });
      case 'invalid':
        return reply.code(400).send({ error: decision.reason });
      case 'release': {
        const delivery = deliveryId(req.headers['x-github-delivery']);
        if (!delivery) return reply.code(400).send({ error: 'X-GitHub-Delivery is missing or not a delivery id' });
        if (spool && (await spool.has(delivery))) return reply.code(202).send({ queued: true, delivery });
        let started: WebhookStart;
        try {
          started = await webhookStart(decision.config, decision.tag, delivery);
        } catch (err) {
          if (!spool || !temporalUnreachable(err)) throw err;
          const { owner, name } = decision.config.repository;
          try {
            await spool.put({ delivery, repository: `${owner}/${name}`, tag: decision.tag, receivedAt: new Date().toISOString() });
          } catch (full) {
            if (!(full instanceof SpoolFullError)) throw full;
            req.log.error({ delivery, tag: decision.tag }, `webhook spool full: ${full.message}`);
            return reply.code(503).send({ error: `Temporal is unreachable and ${full.message}; redeliver this delivery once Temporal is back` });
          }
          req.log.warn({ delivery, tag: decision.tag }, `Temporal unreachable; delivery ${delivery} queued in ${spool.dir}`);
          drain?.wake();
          return reply.code(202).send({ queued: true, delivery });
        }
        const { status, body } = webhookAnswer(started, decision.tag, delivery);
        return reply.code(status).send({ ...body, url: link(started.workflowId) });
      }
    }
  });

  app.post('/api/releases', async (req, reply) => {
    let identity;
    try {
      identity = await authenticate(req.headers.authorization);
    } catch (err) {
      if (err instanceof CiAuthError) return reply.code(err.status).send({ error: err.message });
      throw err;
    }
    const json = parseJsonBody(req.body);
    if (!json.ok) return reply.code(400).send({ error: 'body is not valid JSON' });
    const parsed = releaseRequest.safeParse(json.value);
    if (!parsed.success) {
      return reply.code(400).send({ error: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
    }
    const request = parsed.data;
    const repoName = identity.kind === 'oidc' ? identity.repository : (request.repository ?? (repos.size === 1 ? [...repos.keys()][0]! : undefined));
    if (!repoName) return reply.code(400).send({ error: 'repository is required: this server releases several repositories' });
    const config = repos.get(repoKey(repoName));
    if (!config) return reply.code(404).send({ error: `repository ${repoName} is not configured on this server` });
    const mismatch = oidcMismatch(identity, config, request.ref !== undefined ? { ref: request.ref } : { tag: request.tag! });
    if (mismatch) return reply.code(403).send({ error: mismatch });
    if (request.pypiOidcToken && !opts.codec) {
      return reply.code(503).send({ error: 'this server has no payload encryption keys (TAGSHIP_CODEC_KEYS); it will not put a token into history' });
    }
    let tag = request.tag;
    let tagged: { tag: string; commit: string; created: boolean } | undefined;
    if (request.ref !== undefined) {
      try {
        tagged = await tagFromRef(opts.client, opts.target, config, request.ref, {
          ...(request.version !== undefined ? { version: request.version } : {}),
          // A CI job releases the commit it ran on, not whatever the branch points at by now.
          ...(identity.kind === 'oidc' && identity.sha !== undefined ? { expectedCommit: identity.sha } : {}),
        });
      } catch (err) {
        if (err instanceof TagRefError) return reply.code(TAG_REF_STATUS[err.type ?? ''] ?? 422).send({ error: err.message });
        throw err;
      }
      tag = tagged.tag;
    }
    try {
      const started = await startReleaseUnderWay(
        opts.client,
        opts.target,
        config,
        {
          tag: tag!,
          ...(request.dryRun !== undefined ? { dryRun: request.dryRun } : {}),
          ...(request.pypiOidcToken !== undefined ? { pypiOidcToken: request.pypiOidcToken } : {}),
        },
        opts.apiWaitMs !== undefined ? { waitMs: opts.apiWaitMs } : {},
      );
      const { status, body } = underWayAnswer(started.answer, { workflowId: started.workflowId, url: link(started.workflowId), tag: tag! });
      return reply.code(status).send({ ...body, ...(tagged ? { commit: tagged.commit, tagCreated: tagged.created } : {}) });
    } catch (err) {
      if (err instanceof InvalidTagError) return reply.code(400).send({ error: err.message });
      if (err instanceof ReleaseAlreadyDoneError) return reply.code(409).send({ error: err.message });
      throw err;
    }
  });

  if (opts.codec && opts.codecTokens && opts.codecTokens.length > 0) {
    const allowed = new Set(opts.codecTokens);
    registerCodecRoutes(app, opts.codec, (header) => {
      const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
      return !!m && allowed.has(hashToken(m[1]!));
    });
  }

  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    if (temporalUnreachable(err)) {
      req.log.warn({ error: err.message }, 'Temporal unreachable');
      void reply.code(503).send({ error: `Temporal at ${opts.target.address} is unreachable; try again` });
      return;
    }
    // Fastify's own 4xx (body too large, bad content length) keep their status; anything else is ours.
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ error: err.message }, 'request failed');
    void reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
  });
  return app;
}

/** What GitHub's delivery log shows for a webhook start: 202 when this delivery started or joined a release, 200 when it did nothing. */
function webhookAnswer(started: WebhookStart, tag: string, delivery: string): { status: number; body: Record<string, unknown> } {
  const { workflowId } = started;
  switch (started.outcome) {
    case 'started':
      return { status: 202, body: { status: 'started', workflowId, delivery } };
    case 'joined':
      return { status: 202, body: { status: 'already running', workflowId } };
    case 'handled':
      return { status: 200, body: { status: 'already handled', workflowId, delivery } };
    case 'closed':
      return { status: 200, body: { ignored: closedReason(started, tag), workflowId } };
  }
}

function closedReason(started: { readonly workflowId: string; readonly status: string }, tag: string): string {
  if (started.status === 'COMPLETED') return `${started.workflowId} has already completed; a released version is never released again`;
  return (
    `${started.workflowId} has ended (${started.status.toLowerCase()}); a webhook never starts an ended release again: ` +
    `run \`tagship release start ${tag}\` (or POST /api/releases) to start it again`
  );
}

/** The drain's log line for a queued delivery. */
function spooledOutcome(started: WebhookStart, tag: string): string {
  switch (started.outcome) {
    case 'started':
      return `started ${started.workflowId} (run ${started.runId})`;
    case 'joined':
      return `${started.workflowId} was already running`;
    case 'handled':
      return `already handled: ${started.workflowId}`;
    case 'closed':
      return `not started: ${closedReason(started, tag)}`;
  }
}
