// A burst of releases queued at once against one worker: how long each release takes from its start
// (the first queued, the median, p95, the last queued and the slowest) and the whole burst, how
// loaded the machine gets and how much memory the worker and its children use, with the worker's
// limits and without them.
//
// Each release is the example monorepo's three packages (validate, 3 uv builds, 3 uploads to the
// embedded pypiserver, 3 visibility checks) without images, so the package build slots are what
// the scenarios differ in. Knobs: TAGSHIP_BENCH_BURST (releases per burst, default 20) and
// TAGSHIP_BENCH_BURST_SCENARIOS (comma-separated names from SCENARIOS, default all).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { execa } from 'execa';
import type { WorkerLimits } from '../activities/lib/settings';
import { connectClient } from '../src/client/connect';
import { startRelease } from '../src/client/start';
import { loadConfig } from '../src/config/load';
import type { TagshipConfig } from '../src/config/schema';
import { createExampleRepo, EXAMPLE_DIR, tagVersion } from '../src/dev/demo/example-repo';
import { configForStack, startEmbeddedStack, workerSettingsForStack, type EmbeddedStack } from '../src/dev/stack/embedded';
import { createWorker } from '../worker/run';

const BURST = Number(process.env.TAGSHIP_BENCH_BURST ?? 20);
const CPUS = availableParallelism();

interface Scenario {
  readonly name: string;
  readonly limits: WorkerLimits;
}

// "unlimited" is what a worker did before limits: every step it is handed runs at once.
const SCENARIOS: readonly Scenario[] = [
  { name: 'unlimited', limits: { builds: 9999, imageBuilds: 9999 } },
  { name: 'limited', limits: { builds: CPUS, imageBuilds: 2 } },
  { name: 'limited-2x', limits: { builds: 2 * CPUS, imageBuilds: 2 } },
  { name: 'limited+activities', limits: { builds: CPUS, imageBuilds: 2, activities: 4 * CPUS } },
];

interface Sample {
  readonly load1: number;
  /** Runnable tasks right now (the 4th field of /proc/loadavg, minus this sampler). */
  readonly runnable: number;
  /** RSS of this process (client and worker) and every process under it (uv, git), in MiB. */
  readonly rssMiB: number;
}

async function treeRssMiB(): Promise<number> {
  const { stdout } = await execa('ps', ['-eo', 'pid=,ppid=,rss='], { reject: false });
  const rows = stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number, number]);
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of rows) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const rss = new Map(rows.map(([pid, , kib]) => [pid, kib]));
  let total = 0;
  const stack = [process.pid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += rss.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total / 1024;
}

async function sample(): Promise<Sample> {
  const proc = (await readFile('/proc/loadavg', 'utf8')).split(' ');
  const runnable = Number(proc[3]?.split('/')[0] ?? 0) - 1;
  return { load1: loadavg()[0]!, runnable, rssMiB: await treeRssMiB() };
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Waits (up to 2 minutes) for the 1-minute load average to come down, so one scenario does not start in the last one's wake. */
async function coolDown(baseline: number): Promise<void> {
  const until = Date.now() + 120_000;
  while (Date.now() < until && loadavg()[0]! > baseline + 0.5) await new Promise((r) => setTimeout(r, 5_000));
}

interface Result {
  readonly scenario: Scenario;
  readonly latencies: readonly number[];
  readonly samples: readonly Sample[];
  readonly failed: number;
  /** Where the first queued release spent its time. */
  readonly firstTimeline: string;
  /** From the first start to the last release's end. */
  readonly makespan: number;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
}

/**
 * Each step of a release as "step scheduled→started→closed" in seconds from the release's start:
 * the gap before "started" is waiting for the worker to take the task (its activity slots), the
 * time to "closed" includes waiting for a build slot on the worker.
 */
function timeline(events: readonly HistoryEvent[]): string {
  const t0 = eventMs(events[0]!);
  const at = (e: HistoryEvent) => ((eventMs(e) - t0) / 1000).toFixed(1);
  const steps = new Map<string, { id: string; scheduled: string; started?: string; closed?: string }>();
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) steps.set(String(e.eventId), { id: scheduled.activityId ?? '?', scheduled: at(e) });
    const started = e.activityTaskStartedEventAttributes;
    if (started) steps.get(String(started.scheduledEventId))!.started = at(e);
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (closed) steps.get(String(closed.scheduledEventId))!.closed = at(e);
  }
  return [...steps.values()].map((s) => `${s.id} ${s.scheduled}→${s.started ?? '?'}→${s.closed ?? '?'}`).join(', ');
}

async function burst(stack: EmbeddedStack, config: TagshipConfig, repoDir: string, scenario: Scenario, minor: number, count = BURST): Promise<Result> {
  const tags: string[] = [];
  for (let i = 1; i <= count; i++) tags.push((await tagVersion(repoDir, `2.${minor}.${i}`)).tag);
  const connection = await NativeConnection.connect({ address: stack.temporal.address });
  const target = { ...stack.temporal, taskQueue: `tagship-burst-${scenario.name}`, codec: stack.codec };
  const worker = await createWorker(
    connection,
    { namespace: target.namespace, taskQueue: target.taskQueue, settings: { ...workerSettingsForStack(stack), limits: scenario.limits } },
    scenario.limits.activities !== undefined ? { maxConcurrentActivityTaskExecutions: scenario.limits.activities } : {},
  );
  const client = await connectClient(target);
  const samples: Sample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push(await sample());
      await new Promise((r) => setTimeout(r, 1_000));
    }
  })();
  let failed = 0;
  let firstTimeline = '';
  let makespan = 0;
  const latencies = await worker.runUntil(async () => {
    // Queued one right after the other, as a burst of tag pushes arrives: the first tag is the
    // oldest release. (Started all at once, the server would order them by chance.)
    const started: { handle: WorkflowHandle; at: number }[] = [];
    for (const tag of tags) started.push({ at: Date.now(), handle: (await startRelease(client, target, config, tag)).handle });
    const done = await Promise.all(
      started.map(async (s) => {
        await s.handle.result().catch(() => failed++);
        return Date.now() - s.at;
      }),
    );
    firstTimeline = timeline((await started[0]!.handle.fetchHistory()).events ?? []);
    makespan = Date.now() - started[0]!.at;
    return done;
  });
  sampling = false;
  await sampler;
  await client.connection.close();
  await connection.close();
  return { scenario, latencies, samples, failed, firstTimeline, makespan };
}

function report(r: Result): string {
  const l = r.latencies;
  const limits = Object.entries(r.scenario.limits)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return (
    `${r.scenario.name} (${limits}): ${l.length} releases${r.failed ? `, ${r.failed} FAILED` : ''}\n` +
    `  latency  first queued ${secs(l[0]!)}, median ${secs(percentile(l, 50))}, p95 ${secs(percentile(l, 95))}, last queued ${secs(l.at(-1)!)}, ` +
    `slowest ${secs(Math.max(...l))}; whole burst ${secs(r.makespan)}\n` +
    `  load     1-min load average peak ${Math.max(...r.samples.map((s) => s.load1)).toFixed(1)}; ` +
    `runnable tasks mean ${mean(r.samples.map((s) => s.runnable)).toFixed(1)}, peak ${Math.max(...r.samples.map((s) => s.runnable))}\n` +
    `  memory   RSS of worker + children peak ${Math.max(...r.samples.map((s) => s.rssMiB)).toFixed(0)} MiB, mean ${mean(r.samples.map((s) => s.rssMiB)).toFixed(0)} MiB\n` +
    `  first    s from its start, scheduled→started→closed: ${r.firstTimeline}\n`
  );
}

async function bench(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const wanted = (process.env.TAGSHIP_BENCH_BURST_SCENARIOS ?? SCENARIOS.map((s) => s.name).join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const scenarios = wanted.map((name) => {
    const s = SCENARIOS.find((x) => x.name === name);
    if (!s) throw new Error(`TAGSHIP_BENCH_BURST_SCENARIOS: no scenario "${name}" (${SCENARIOS.map((x) => x.name).join(', ')})`);
    return s;
  });
  const root = await mkdtemp(join(tmpdir(), 'tagship-burst-'));
  const stack = await startEmbeddedStack({ dataDir: join(root, 'stack'), headless: true, baseImage: false });
  try {
    const repo = await createExampleRepo(join(root, 'repo'), '2.0.0');
    const full = configForStack(await loadConfig(join(EXAMPLE_DIR, 'tagship.toml')), stack, repo.dir);
    const config: TagshipConfig = { ...full, variants: [] };
    process.stdout.write(`burst of ${BURST} releases (3 packages each, no images) on one worker, ${CPUS} CPUs\n`);
    // One release first, so uv's cache holds the build backend and no scenario pays for it.
    const warm = await burst(stack, config, repo.dir, { name: 'warm-up', limits: {} }, 0, 1).catch((err: unknown) => {
      throw new Error(`warm-up release failed: ${String(err)}`);
    });
    if (warm.failed) throw new Error('warm-up releases failed');
    const baseline = loadavg()[0]!;
    for (const [i, scenario] of scenarios.entries()) {
      await coolDown(baseline);
      process.stdout.write(report(await burst(stack, config, repo.dir, scenario, i + 1)));
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
