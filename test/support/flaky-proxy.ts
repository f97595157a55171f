// An HTTP proxy in front of a real local server that answers chosen requests with an error
// status first: how a flaky or throttling index looks to tagship.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FlakyProxy {
  readonly url: string;
  /** Requests seen, as "METHOD /path -> status". */
  readonly seen: string[];
  /** Statuses to answer, in order, for requests matching `when`; then requests pass through. */
  fail(statuses: number[], when: (req: IncomingMessage) => boolean): void;
  close(): Promise<void>;
}

export async function startFlakyProxy(upstream: string): Promise<FlakyProxy> {
  let queue: number[] = [];
  let match: (req: IncomingMessage) => boolean = () => false;
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => res.destroy(err as Error));
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (queue.length > 0 && match(req)) {
      const status = queue.shift()!;
      seen.push(`${req.method} ${req.url} -> ${status}`);
      res.writeHead(status, status === 429 ? { 'retry-after': '0' } : {}).end(`injected ${status}`);
      return;
    }
    const target = new URL(req.url ?? '/', upstream);
    const headers = { ...req.headers } as Record<string, string>;
    delete headers.host;
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const up = await fetch(target, { method: req.method, headers, body, redirect: 'manual' });
    seen.push(`${req.method} ${req.url} -> ${up.status}`);
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (!['content-encoding', 'transfer-encoding', 'content-length', 'connection'].includes(k)) out[k] = v;
    });
    res.writeHead(up.status, out).end(Buffer.from(await up.arrayBuffer()));
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    seen,
    fail(statuses, when) {
      queue = [...statuses];
      match = when;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
