// `npm run bench`: releases the example monorepo several times on the embedded stack and reports
// the end-to-end time against (a) the critical path of the activities' own times, the floor any
// orchestration could reach, and (b) the sum of the same steps in the seed's sequential order.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config/load';
import { createExampleRepo, EXAMPLE_DIR, tagVersion } from '../src/dev/demo/example-repo';
import { connectClient } from '../src/client/connect';
import { startRelease } from '../src/client/start';
import { stepEvents } from '../src/client/follow';
import { configForStack, startEmbeddedStack, workerSettingsForStack } from '../src/dev/stack/embedded';
import type { ReleaseSummary } from '../src/contract/release';
import { createWorker } from '../worker/run';
import { criticalPathMs, sequentialMs } from './critical-path';

const RUNS = Number(process.env.TAGSHIP_BENCH_RUNS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function eventMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
}

async function bench(): Promise<void> {
  // The summary is the output; the worker's lifecycle chatter is not.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const root = await mkdtemp(join(tmpdir(), 'tagship-bench-'));
  const stack = await startEmbeddedStack({ dataDir: join(root, 'stack'), headless: true });
  try {
    const repo = await createExampleRepo(join(root, 'repo'), '1.1.0');
    const config = configForStack(await loadConfig(join(EXAMPLE_DIR, 'tagship.toml')), stack, repo.dir);
    const connection = await NativeConnection.connect({ address: stack.temporal.address });
    const target = { ...stack.temporal, taskQueue: 'tagship-bench', codec: stack.codec };
    const worker = await createWorker(connection, { namespace: target.namespace, taskQueue: target.taskQueue, settings: workerSettingsForStack(stack) });
    const client = await connectClient(target);
    const rows: { version: string; e2e: number; critical: number; sequential: number }[] = [];
    // Per platform, every variant's build + smoke time in every release: native amd64 vs arm64 under QEMU.
    const platformMs = new Map<string, number[]>();
    const imagePhase: number[] = [];
    await worker.runUntil(async () => {
      for (let i = 0; i < RUNS; i++) {
        const { tag } = i === 0 ? repo : await tagVersion(repo.dir, `1.1.${i}`);
        const started = await startRelease(client, target, config, tag);
        const summary = (await started.handle.result()) as ReleaseSummary;
        for (const image of summary.images) {
          for (const [platform, ms] of Object.entries(image.buildMs ?? {})) platformMs.set(platform, [...(platformMs.get(platform) ?? []), ms]);
        }
        const events = (await started.handle.fetchHistory()).events ?? [];
        const e2e = eventMs(events.at(-1)?.eventTime) - eventMs(events[0]?.eventTime);
        const times = new Map<string, number>();
        const stepList = stepEvents(events);
        for (const e of stepList) if (e.kind === 'completed') times.set(e.step, e.ms);
        imagePhase.push(Math.max(...[...times].filter(([s]) => s.startsWith('image:')).map(([, ms]) => ms)));
        const row = { version: tag, e2e, critical: criticalPathMs(config, times), sequential: sequentialMs(config, times) };
        rows.push(row);
        process.stdout.write(
          `${tag}: end-to-end ${row.e2e} ms, critical path ${row.critical} ms (ratio ${(row.e2e / row.critical).toFixed(3)}), ` +
            `sequential ${row.sequential} ms (${(row.sequential / row.e2e).toFixed(2)}x slower)\n`,
        );
      }
    });
    await client.connection.close();
    await connection.close();
    const e2e = median(rows.map((r) => r.e2e));
    const critical = median(rows.map((r) => r.critical));
    const sequential = median(rows.map((r) => r.sequential));
    process.stdout.write(
      `\nmedian of ${rows.length} releases (3 packages, 4 variants × 2 platforms):\n` +
        `  end-to-end           ${e2e} ms\n` +
        `  critical path        ${critical} ms   ratio end-to-end / critical path = ${(e2e / critical).toFixed(3)}\n` +
        `  seed's sequential    ${sequential} ms   speed-up = ${(sequential / e2e).toFixed(2)}x\n` +
        `  longest image step   ${median(imagePhase)} ms (build slots: ${workerSettingsForStack(stack).limits?.imageBuilds ?? 'default'})\n`,
    );
    process.stdout.write('\nper-platform image build + smoke test (median over variants and releases):\n');
    for (const [platform, xs] of [...platformMs].sort()) {
      process.stdout.write(`  ${platform.padEnd(12)} ${median(xs)} ms  (min ${Math.min(...xs)}, max ${Math.max(...xs)}, n=${xs.length})\n`);
    }
  } finally {
    await stack.stop();
    await rm(root, { recursive: true, force: true });
  }
}

bench().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
