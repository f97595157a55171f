// The fastify setup every tagship HTTP endpoint shares: request bodies kept as raw bytes (the
// webhook signature covers exactly what was sent; handlers parse JSON themselves) and CORS for
// the Temporal UI's origins, which call the codec endpoint from the browser.
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';

export interface HttpAppOptions {
  readonly bodyLimit: number;
  readonly corsOrigins: readonly string[];
  readonly logger?: boolean;
}

export async function createHttpApp(opts: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: opts.bodyLimit, logger: opts.logger ?? false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  await app.register(cors, {
    origin: [...opts.corsOrigins],
    methods: ['POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'x-namespace', 'authorization'],
    credentials: true,
  });
  return app;
}

/** A raw request body as JSON, or `ok: false` when it is not JSON. */
export function parseJsonBody(body: unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : '') };
  } catch {
    return { ok: false };
  }
}
