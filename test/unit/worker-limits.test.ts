// What a worker refuses and what it holds back: `tagship worker` does not start without payload
// encryption keys unless told to write history in plain text, and builds over the worker's limit
// wait their turn (oldest first, saying so in their heartbeat, and ending at once when cancelled).
// Builds run on real git and uv from the example monorepo.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { execa } from 'execa';
import { createActivities } from '../../activities';
import { BuildSlots } from '../../activities/lib/build-slots';
import type { WorkerSettings } from '../../activities/lib/settings';
import { loadConfig } from '../../src/config/load';
import { buildSlice } from '../../src/config/plan';
import type { TagshipConfig } from '../../src/config/schema';
import type { BuildPackageInput } from '../../src/contract/activities';
import type { BuiltPackage } from '../../src/contract/release';
import { createExampleRepo } from '../../src/dev/demo/example-repo';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

describe('tagship worker without payload encryption keys', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'tagship-worker-keys-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  // Nothing listens on port 1: a worker that gets past its checks fails to connect, quickly.
  const worker = (args: readonly string[]) => {
    const env: NodeJS.ProcessEnv = { ...process.env, TAGSHIP_HOME: home, TAGSHIP_TEMPORAL_ADDRESS: '127.0.0.1:1' };
    delete env.TAGSHIP_CODEC_KEYS;
    delete env.TAGSHIP_CODEC_KEYS_FILE;
    return execa(process.execPath, ['--import', 'tsx', MAIN, 'worker', ...args], { env, extendEnv: false, reject: false, timeout: 120_000 });
  };

  it('refuses to start (exit 2), naming TAGSHIP_CODEC_KEYS and how to make a key', async () => {
    const res = await worker([]);
    assert.equal(res.exitCode, 2, res.stderr);
    assert.match(res.stderr, /refusing to start without payload encryption keys/);
    assert.match(res.stderr, /Set TAGSHIP_CODEC_KEYS \(or TAGSHIP_CODEC_KEYS_FILE/);
    assert.match(res.stderr, /export TAGSHIP_CODEC_KEYS="k1:\$\(openssl rand -base64 32\)"/);
    assert.match(res.stderr, /--insecure-plaintext-history/);
  });

  it('with --insecure-plaintext-history gets past the check, warning that history is plain text', async () => {
    const res = await worker(['--insecure-plaintext-history']);
    assert.match(res.stderr, /WARNING: --insecure-plaintext-history: no TAGSHIP_CODEC_KEYS, so payloads go to Temporal's history in plain text/);
    assert.doesNotMatch(res.stderr, /refusing to start/);
    assert.notEqual(res.exitCode, 2, res.stderr);
  });

  it('refuses a bad limit the same way (exit 2), before anything else', async () => {
    const res = await worker(['--insecure-plaintext-history', '--max-workflow-tasks', '1']);
    assert.equal(res.exitCode, 2, res.stderr);
    assert.match(res.stderr, /^tagship worker: --max-workflow-tasks=1 must be a whole number from 2 to 9999/m);
  });
});

describe('build slots', () => {
  it('go to the step scheduled first, and tell a waiting step when its place in line changes', async () => {
    const slots = new BuildSlots(1, 'package build');
    const release = await slots.acquire();
    const told: string[] = [];
    const granted: string[] = [];
    const wait = (name: string, since: number) =>
      slots
        .forStep(since)
        .acquire(undefined, { onPosition: (p) => told.push(`${name} ${p}`) })
        .then((r) => {
          granted.push(name);
          r();
        });
    const late = wait('late', 2_000);
    const early = wait('early', 1_000);
    release();
    await Promise.all([late, early]);
    assert.deepEqual(granted, ['early', 'late']);
    assert.deepEqual(told, ['late 1', 'early 1', 'late 2', 'late 1']);
    assert.equal(slots.busy, 0);
  });
});

describe('package builds over the worker limit', () => {
  let root: string;
  let settings: WorkerSettings;
  let config: TagshipConfig;
  let repo: { tag: string; commit: string };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-build-slots-'));
    settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts'), limits: { builds: 1 } };
    const made = await createExampleRepo(join(root, 'repo'), '2.0.0');
    repo = made;
    const loaded = await loadConfig(join(made.dir, 'tagship.toml'));
    config = { ...loaded, repository: { ...loaded.repository, url: made.dir } };
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const input = (pkg: string): BuildPackageInput => ({
    config: buildSlice(config, pkg),
    tag: repo.tag,
    commit: repo.commit,
    version: '2.0.0',
    package: pkg,
    dryRun: true,
  });

  it('run one after the other with builds = 1; the second says in its heartbeat that it waits', async () => {
    const activities = createActivities(settings);
    const events: string[] = [];
    // Whether the first build is recorded in the artifact store: its last act before it gives up its slot.
    const firstRecorded = () =>
      existsSync(join(settings.artifactDir, 'builds')) &&
      readdirSync(join(settings.artifactDir, 'builds'), { recursive: true }).some((f) => /open[-_]ticket[-_]ai-2\.0\.0\.json$/.test(String(f)));
    const step = (name: string, pkg: string, scheduled: number) => {
      const env = new MockActivityEnvironment({ scheduledTimestampMs: scheduled, activityId: `build:${pkg}` });
      env.on('heartbeat', (d: unknown) => events.push(`${name} heartbeat: ${String(d)}${firstRecorded() ? ' (first recorded)' : ''}`));
      const done = env.run((i: BuildPackageInput) => activities.buildPackage(i), input(pkg));
      return { env, done: done.then((b) => (events.push(`${name} done`), b as BuiltPackage)) };
    };
    const first = step('first', 'open-ticket-ai', 1_000);
    const second = step('second', 'otai-hf-local', 2_000);
    const [a, b] = await Promise.all([first.done, second.done]);
    assert.equal(a.package, 'open-ticket-ai');
    assert.equal(b.package, 'otai-hf-local');
    const log = events.join('\n');
    const waiting = 'second heartbeat: otai-hf-local: waiting for a package build slot on this worker (1 in line, 1 at a time)';
    assert.ok(events.includes(waiting), `the second said it waits:\n${log}`);
    assert.ok(events.indexOf(waiting) < events.indexOf('first done'), `it waited while the first built:\n${log}`);
    assert.ok(events.includes('second heartbeat: otai-hf-local (first recorded)'), `it started building once the first was done:\n${log}`);
    assert.ok(!events.includes('second heartbeat: otai-hf-local'), `not before:\n${log}`);
    assert.ok(events.indexOf('first done') < events.indexOf('second done'), log);
  });

  it('a build waiting for a slot ends at once when it is cancelled', async () => {
    const activities = createActivities(settings);
    const running = new MockActivityEnvironment({ scheduledTimestampMs: 1_000 });
    const building = running.run((i: BuildPackageInput) => activities.buildPackage(i), input('open-ticket-ai'));
    const waiting = new MockActivityEnvironment({ scheduledTimestampMs: 2_000 });
    const told = new Promise<void>((resolve) => waiting.once('heartbeat', () => resolve()));
    const cancelled = waiting.run((i: BuildPackageInput) => activities.buildPackage(i), input('otai-otobo-znuny'));
    await told;
    waiting.cancel();
    await assert.rejects(cancelled, CancelledFailure);
    await building;
  });
});
