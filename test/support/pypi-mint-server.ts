// PyPI's trusted-publishing endpoints in front of the real local index (pypiserver):
// GET /_/oidc/audience, POST /_/oidc/mint-token (verifies the ID token against the issuer's JWKS
// and a registered trusted publisher, answers with PyPI's error shape and codes), and the upload
// API, which accepts only `__token__` + a minted, unexpired token and forwards to the index with
// the index's own credentials. Everything else (the Simple API) is passed through.
import { randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

export interface TrustedPublisher {
  readonly repository: string;
  readonly workflowFile: string;
}

export interface MintServerOptions {
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly audience?: string;
  readonly publisher: TrustedPublisher;
  /** The real index behind it. */
  readonly indexUrl: string;
  readonly indexUsername: string;
  readonly indexPassword: string;
}

export interface MintServer {
  readonly url: string;
  /** Every mint request's outcome, for assertions. */
  readonly mints: { ok: boolean; codes: string[] }[];
  /** Every upload's outcome (status code). */
  readonly uploads: number[];
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startMintServer(opts: MintServerOptions): Promise<MintServer> {
  const audience = opts.audience ?? 'pypi';
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl));
  const minted = new Map<string, number>();
  const usedJtis = new Set<string>();
  const mints: MintServer['mints'] = [];
  const uploads: number[] = [];
  const index = new URL(opts.indexUrl);
  const indexAuth = `Basic ${Buffer.from(`${opts.indexUsername}:${opts.indexPassword}`).toString('base64')}`;

  const fail = (code: string, description: string) => ({ message: 'Token request failed', errors: [{ code, description }] });

  async function mint(raw: Buffer): Promise<{ status: number; body: unknown }> {
    let token: unknown;
    try {
      token = (JSON.parse(raw.toString()) as { token?: unknown }).token;
    } catch {
      return { status: 422, body: fail('invalid-payload', 'malformed JSON') };
    }
    if (typeof token !== 'string') return { status: 422, body: fail('invalid-payload', 'token is missing') };
    let claims;
    try {
      claims = (await jwtVerify(token, jwks, { issuer: opts.issuer, audience })).payload;
    } catch (err) {
      return { status: 422, body: fail('invalid-token', `valid token, but no corresponding publisher (${(err as Error).message})`) };
    }
    // As PyPI: an ID token is exchanged once; its jti is remembered.
    const jti = typeof claims.jti === 'string' ? claims.jti : undefined;
    if (jti === undefined) return { status: 422, body: fail('invalid-payload', 'token has no jti') };
    if (usedJtis.has(jti)) return { status: 422, body: fail('invalid-reuse-token', 'invalid token: already used') };
    const workflowRef = String(claims.job_workflow_ref ?? '');
    const expected = `${opts.publisher.repository}/${opts.publisher.workflowFile}@`;
    if (claims.repository !== opts.publisher.repository || !workflowRef.startsWith(expected)) {
      return { status: 422, body: fail('invalid-publisher', `valid token, but no corresponding publisher (Publisher with matching claims was not found)`) };
    }
    usedJtis.add(jti);
    const value = `pypi-${randomBytes(24).toString('base64url')}`;
    minted.set(value, Date.now() + 15 * 60_000);
    return { status: 200, body: { success: true, token: value } };
  }

  function uploadAllowed(req: IncomingMessage): boolean {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Basic ')) return false;
    const [user, ...rest] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
    const expiry = minted.get(rest.join(':'));
    return user === '__token__' && expiry !== undefined && expiry > Date.now();
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (url.pathname === '/_/oidc/audience' && req.method === 'GET') return json(200, { audience });
    if (url.pathname === '/_/oidc/mint-token' && req.method === 'POST') {
      void body(req).then(async (raw) => {
        const result = await mint(raw);
        const codes = ((result.body as { errors?: { code: string }[] }).errors ?? []).map((e) => e.code);
        mints.push({ ok: result.status === 200, codes });
        json(result.status, result.body);
      });
      return;
    }
    const isUpload = req.method === 'POST' && url.pathname === '/';
    if (isUpload && !uploadAllowed(req)) {
      uploads.push(403);
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('403 Forbidden: invalid or non-existent authentication information');
      return;
    }
    const headers = { ...req.headers, host: index.host, ...(isUpload ? { authorization: indexAuth } : {}) };
    const upstream = request({ host: index.hostname, port: index.port, path: req.url, method: req.method, headers }, (up) => {
      if (isUpload) uploads.push(up.statusCode ?? 0);
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, mints, uploads, close: () => new Promise((r) => server.close(() => r())) };
}
