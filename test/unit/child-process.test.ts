// Child processes of activities, without a Temporal server: a cancel or timeout kills the child and
// everything it started, nothing a child starts outlives it, and a child never sees the worker's
// secrets. And the registry client keeps its request timeout when it is given a cancel signal.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncLocalStorage } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { buildFailure } from '../../activities/lib/build-failure';
import { heartbeat, whileHeartbeating } from '../../activities/lib/heartbeat';
import { ChildTimeoutError, runChild } from '../../activities/lib/child-process';
import { identify, recordChildrenIn } from '../../activities/lib/leftovers';
import { RegistryClient, RegistryError } from '../../activities/lib/registry-client';
import { tools } from '../../activities/lib/tools';
import { eventually } from '../support/eventually';

const python = tools.python3();

/** A Python program that starts a grandchild (sleeping, ignoring SIGTERM when asked), writes both pids to `pidFile`, then sleeps. */
function parentOfGrandchild(pidFile: string, opts: { ignoreTerm?: boolean; exitAtOnce?: boolean } = {}): string[] {
  const grandchild = ['import signal, time', ...(opts.ignoreTerm ? ['signal.signal(signal.SIGTERM, signal.SIG_IGN)'] : []), 'time.sleep(600)'].join('\n');
  const parent = [
    'import json, os, subprocess, sys, time',
    `g = subprocess.Popen([sys.executable, '-c', ${JSON.stringify(grandchild)}])`,
    `open(${JSON.stringify(pidFile)} + '.tmp', 'w').write(json.dumps([os.getpid(), g.pid]))`,
    `os.rename(${JSON.stringify(pidFile)} + '.tmp', ${JSON.stringify(pidFile)})`,
    opts.exitAtOnce ? 'sys.exit(0)' : 'time.sleep(600)',
  ].join('\n');
  return ['-c', parent];
}

async function pidsFrom(pidFile: string): Promise<number[]> {
  return eventually(
    `the child to write ${pidFile}`,
    async () => JSON.parse(await readFile(pidFile, 'utf8')) as number[],
    (pids) => pids.length === 2,
    { timeoutMs: 30_000 },
  );
}

async function running(pids: readonly number[]): Promise<number[]> {
  const alive: number[] = [];
  for (const pid of pids) if (await identify(pid)) alive.push(pid);
  return alive;
}

describe('child processes of activities', { timeout: 120_000 }, () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-child-unit-'));
  });
  after(async () => {
    recordChildrenIn(undefined);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('a cancel kills the child and the grandchild it started, even one that ignores SIGTERM, and reports a cancellation', async () => {
    const pidFile = join(root, 'cancel.json');
    const abort = new AbortController();
    const run = runChild(python, parentOfGrandchild(pidFile, { ignoreTerm: true }), { signal: abort.signal, graceMs: 500 });
    const pids = await pidsFrom(pidFile);
    assert.deepEqual(await running(pids), pids, 'both run before the cancel');
    abort.abort(new CancelledFailure('operator aborted'));
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof CancelledFailure, String(err));
      assert.equal(err.message, 'operator aborted');
      return true;
    });
    await eventually(
      'the child and its grandchild to be gone',
      () => running(pids),
      (alive) => alive.length === 0,
    );
  });

  it('a child that exits leaves nothing it started running, and does not wait for it', async () => {
    const pidFile = join(root, 'exit.json');
    const result = await runChild(python, parentOfGrandchild(pidFile, { exitAtOnce: true }));
    assert.equal(result.exitCode, 0);
    const pids = JSON.parse(await readFile(pidFile, 'utf8')) as number[];
    await eventually(
      'the grandchild to be gone',
      () => running(pids),
      (alive) => alive.length === 0,
    );
  });

  it('a timeout kills the group and says the child was killed', async () => {
    const pidFile = join(root, 'timeout.json');
    await assert.rejects(runChild(python, parentOfGrandchild(pidFile), { timeoutMs: 3_000, graceMs: 500 }), (err: unknown) => {
      assert.ok(err instanceof ChildTimeoutError, String(err));
      assert.match(err.message, /did not finish within 3 s and was killed/);
      return true;
    });
    const pids = JSON.parse(await readFile(pidFile, 'utf8')) as number[];
    await eventually(
      'the timed-out group to be gone',
      () => running(pids),
      (alive) => alive.length === 0,
    );
  });

  it("gives a child none of the worker's secrets, a private HOME removed afterwards, and only the credentials meant for it", async () => {
    const secrets = {
      TAGSHIP_INDEX_PASSWORD: 'index-secret-1',
      TAGSHIP_REGISTRY_PASSWORD: 'registry-secret-2',
      TAGSHIP_GITHUB_TOKEN: 'ghp_secret3',
      TAGSHIP_CODEC_KEYS: 'codec-secret-4',
      UV_PUBLISH_PASSWORD: 'publish-secret-5',
      AWS_SECRET_ACCESS_KEY: 'aws-secret-6',
      HTTPS_PROXY: 'http://proxyuser:proxy-secret-7@127.0.0.1:3128',
    };
    const saved = Object.fromEntries(Object.keys(secrets).map((k) => [k, process.env[k]]));
    Object.assign(process.env, secrets);
    try {
      const printEnv = ['-c', 'import json, os; print(json.dumps(dict(os.environ)))'];
      const untrusted = await runChild(python, printEnv, { untrusted: true, env: { ONLY_FOR_THIS_CHILD: 'yes' } });
      const seen = JSON.parse(untrusted.stdout) as Record<string, string>;
      for (const value of Object.values(secrets)) assert.ok(!untrusted.stdout.includes(value), `the child saw ${value}`);
      assert.deepEqual(
        Object.keys(seen).filter((k) => k.startsWith('TAGSHIP_')),
        [],
      );
      assert.equal(seen.ONLY_FOR_THIS_CHILD, 'yes');
      assert.equal(seen.PATH, process.env.PATH);
      assert.notEqual(seen.HOME, process.env.HOME);
      assert.match(seen.HOME ?? '', /tagship-home-/);
      await assert.rejects(stat(seen.HOME!), { code: 'ENOENT' }, 'the private HOME is removed with the child');

      // A trusted tool (uv publish) reaches the index through the worker's proxy, credentials and all.
      const trusted = JSON.parse((await runChild(python, printEnv)).stdout) as Record<string, string>;
      assert.equal(trusted.HTTPS_PROXY, secrets.HTTPS_PROXY);
      assert.equal(trusted.TAGSHIP_INDEX_PASSWORD, undefined);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('keeps a record of each running child in the runtime directory, removed when it ends', async () => {
    const records = join(root, 'run', 'children');
    recordChildrenIn(records);
    try {
      const pidFile = join(root, 'record.json');
      const abort = new AbortController();
      const run = runChild(python, parentOfGrandchild(pidFile), { signal: abort.signal, graceMs: 500 });
      const [leader] = await pidsFrom(pidFile);
      const names = await eventually(
        'the child to be recorded',
        () => readdir(records),
        (n) => n.length === 1,
      );
      const record = JSON.parse(await readFile(join(records, names[0]!), 'utf8')) as { pgid: number; startTime: number; owner: { pid: number } };
      assert.equal(record.pgid, leader);
      assert.equal(record.startTime, (await identify(leader!))?.startTime);
      assert.equal(record.owner.pid, process.pid);
      abort.abort();
      await assert.rejects(run, CancelledFailure);
      assert.deepEqual(await readdir(records), []);
    } finally {
      recordChildrenIn(undefined);
    }
  });
});

describe('a cancelled activity', () => {
  it('reports its cancellation, not the failure a killed child or aborted request caused, and keeps heartbeating its last detail', async () => {
    const env = new MockActivityEnvironment();
    const details: unknown[] = [];
    env.on('heartbeat', (d: unknown) => details.push(d));
    const step = env.run(() =>
      whileHeartbeating(
        'acme-core',
        async () => {
          heartbeat('building acme-core for linux/arm64');
          await eventually('the cancel', () => asyncLocalStorage.getStore()?.cancellationSignal.aborted, Boolean);
          // What a builder killed by the cancel looks like to the code that ran it.
          throw buildFailure('network', 'build of r:1 for linux/arm64', 143, 'connection reset');
        },
        50,
      ),
    );
    await eventually(
      'a timer heartbeat with the latest detail',
      () => details.at(-1),
      (d) => d === 'building acme-core for linux/arm64',
    );
    env.cancel();
    await assert.rejects(step, (err: unknown) => {
      assert.ok(err instanceof CancelledFailure, String(err));
      return true;
    });
    assert.equal(details[0], 'acme-core');
  });

  it("a child heartbeats for a step that has none of its own (validate's git), so the step hears a cancel", async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const step = env.run(() => runChild(python, ['-c', 'import time; time.sleep(600)']));
    await eventually(
      'the child to heartbeat for the step',
      () => beats,
      (n) => n > 0,
      { timeoutMs: 30_000 },
    );
    env.cancel();
    await assert.rejects(step, CancelledFailure);
  });
});

describe('registry client', () => {
  let server: Server;
  let registry: string;
  before(async () => {
    // A registry that accepts connections and never answers.
    server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    registry = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('keeps its request timeout when it is also given a cancel signal', async () => {
    const never = new AbortController();
    const client = new RegistryClient({ registry, repository: 'acme/app' }, { insecure: true, signal: never.signal });
    await assert.rejects(client.getBlob('sha256:00', { timeoutMs: 500 }), (err: unknown) => {
      assert.ok(err instanceof RegistryError, String(err));
      assert.equal(err.retryable, true);
      assert.match(err.message, /cannot reach registry .*(timeout|aborted)/i);
      return true;
    });
  });

  it('a cancel is the cancellation itself, not a registry failure to retry', async () => {
    const abort = new AbortController();
    const client = new RegistryClient({ registry, repository: 'acme/app' }, { insecure: true, signal: abort.signal });
    const pending = client.getManifest('latest');
    abort.abort(new CancelledFailure('CANCELLED'));
    await assert.rejects(pending, CancelledFailure);
  });
});
