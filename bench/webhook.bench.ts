// Webhook throughput and latency of `tagship server` over real HTTP on 127.0.0.1, against the
// real Temporal dev server: redeliveries of a tag that is already releasing (each one looks up the
// running workflow), ignored events (branch pushes), and bad signatures (rejected before parsing).
import { createHmac, randomBytes } from 'node:crypto';
import { parseConfig } from '../src/config/load';
import { generateKeySpec, parseKeyRing } from '../src/codec/encryption-codec';
import { connectClient } from '../src/client/connect';
import { buildServer } from '../src/server/app';
import { SEARCH_ATTRIBUTE_TYPES } from '../src/contract/search-attributes';
import { startTemporalDevServer } from '../src/dev/stack/temporal';

const N = Number(process.env.TAGSHIP_BENCH_DELIVERIES ?? 2000);
const CONCURRENCY = Number(process.env.TAGSHIP_BENCH_CONCURRENCY ?? 16);
const SECRET = randomBytes(16).toString('hex');
const REPO = 'Softoft-Orga/open-ticket-ai';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(name: string, url: string, body: string, signature: string, expect: number): Promise<void> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        next++;
        const t = performance.now();
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature },
          body,
        });
        await res.arrayBuffer();
        if (res.status !== expect) throw new Error(`${name}: expected ${expect}, got ${res.status}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    `${name.padEnd(26)} ${String(N).padStart(6)} deliveries  ${(N / seconds).toFixed(0).padStart(6)}/s  p50 ${percentile(latencies, 50).toFixed(2)} ms  p99 ${percentile(latencies, 99).toFixed(2)} ms\n`,
  );
}

async function bench(): Promise<void> {
  const temporal = await startTemporalDevServer({ headless: true, searchAttributes: SEARCH_ATTRIBUTE_TYPES });
  const target = {
    address: temporal.address,
    namespace: temporal.namespace,
    taskQueue: 'bench',
    uiUrl: 'http://127.0.0.1:8233',
    codec: parseKeyRing(generateKeySpec('b')),
  };
  const client = await connectClient(target);
  const app = await buildServer({
    client,
    target,
    configs: [parseConfig('', 'defaults')],
    webhookSecret: SECRET,
    ciAuth: {
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'tagship',
      jwksUrl: 'https://token.actions.githubusercontent.com/.well-known/jwks',
      staticTokens: [],
    },
  });
  try {
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `${base}/webhooks/github`;
    const sign = (b: string) => `sha256=${createHmac('sha256', SECRET).update(b).digest('hex')}`;
    const tag = JSON.stringify({ ref: 'refs/tags/v9.9.9', created: true, deleted: false, repository: { full_name: REPO } });
    const branch = JSON.stringify({ ref: 'refs/heads/main', created: false, deleted: false, repository: { full_name: REPO } });
    process.stdout.write(`tagship server webhook, concurrency ${CONCURRENCY}:\n`);
    // The first delivery starts the (worker-less, so forever running) release; the rest are duplicates.
    await run('duplicate tag pushes', url, tag, sign(tag), 202);
    await run('ignored (branch push)', url, branch, sign(branch), 200);
    await run('bad signature', url, tag, sign(`${tag}x`), 401);
  } finally {
    await app.close();
    await client.connection.close();
    await temporal.stop();
  }
}

bench().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
