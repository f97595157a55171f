// An HTTP proxy in front of a real local server that can hold a chosen request back (received,
// not yet passed on) until the test lets it go: a write that reaches the server late, as over a
// slow link, so a test can make another client finish in between. Nothing is timed; the test
// decides when the held request goes on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldRequest {
  /** Settles once a matching request reached the proxy (and is being held). */
  readonly arrived: Promise<void>;
  /** Passes the held request on upstream (or lets the next match through, if none came yet). */
  release(): void;
}

export interface DelayingProxy {
  /** host:port of the proxy, for image references and registry clients. */
  readonly host: string;
  /** Requests passed upstream, as "METHOD /path -> status", in the order they were answered. */
  readonly seen: string[];
  /** Holds the next request for which `when` is true until `release()`; other requests pass at once. */
  hold(when: (method: string, path: string) => boolean): HeldRequest;
  close(): Promise<void>;
}

interface Hold {
  readonly when: (method: string, path: string) => boolean;
  readonly arrive: () => void;
  readonly released: Promise<void>;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'host'];

/** A proxy to `upstream` ("http://host:port"). */
export async function startDelayingProxy(upstream: string): Promise<DelayingProxy> {
  const holds: Hold[] = [];
  const seen: string[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const i = holds.findIndex((h) => h.when(method, path));
    if (i >= 0) {
      const [held] = holds.splice(i, 1);
      held!.arrive();
      await held!.released;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.includes(k)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const up = await fetch(new URL(path, upstream), {
      method,
      headers,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
      redirect: 'manual',
    });
    const body = Buffer.from(await up.arrayBuffer());
    seen.push(`${method} ${path} -> ${up.status}`);
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (!HOP_BY_HOP.includes(k)) out[k] = v;
    });
    res.writeHead(up.status, out).end(body);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => res.destroy(err as Error));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    hold(when) {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((r) => (arrive = r));
      const released = new Promise<void>((r) => (release = r));
      holds.push({ when, arrive, released });
      return { arrived, release };
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
