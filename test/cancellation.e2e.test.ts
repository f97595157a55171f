// Cancellation and secrets on real parts (git, uv, a build backend from the repository, pypiserver):
// a cancelled build kills uv, the backend and what the backend started, and removes its temporary
// directories; the backend never sees the worker's secrets; an upload cut off by a cancel never
// lands on the index; and a worker killed with -9 has its leftovers swept by the next one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { buildPackage } from '../activities/build-package';
import { publishPackage } from '../activities/publish-package';
import { childRecordDir, groupMembers, identify, ownedTempDir, recordChildrenIn, sweepLeftovers } from '../activities/lib/leftovers';
import { runChild } from '../activities/lib/child-process';
import { listProjectFiles } from '../activities/lib/simple-index';
import type { WorkerSettings } from '../activities/lib/settings';
import { tools } from '../activities/lib/tools';
import { parseConfig } from '../src/config/load';
import { git } from '../src/dev/demo/example-repo';
import { startPypiServer, type PypiServer } from '../src/dev/stack/pypiserver';
import { eventually } from './support/eventually';
import { buildTinyPackage, storeAll } from './support/tiny-package';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRETS = {
  TAGSHIP_INDEX_PASSWORD: 'index-password-e2e-1',
  TAGSHIP_REGISTRY_PASSWORD: 'registry-password-e2e-2',
  TAGSHIP_GITHUB_TOKEN: 'ghs_github-token-e2e-3',
  TAGSHIP_CODEC_KEYS: 'codec-keys-e2e-4',
};

/**
 * A PEP 517 backend in the repository itself. `build_sdist` either starts a grandchild, records
 * the pids and paths it sees in `marker` and sleeps, or writes the environment it got to `marker`,
 * prints it and fails.
 */
function backend(marker: string, mode: 'sleep' | 'print-env'): string {
  const body =
    mode === 'sleep'
      ? [
          "    g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])",
          '    seen = {"backend": os.getpid(), "grandchild": g.pid, "pgid": os.getpgid(0), "home": os.environ.get("HOME"), "tmp": os.environ.get("TMPDIR")}',
          `    open(${JSON.stringify(marker)} + ".tmp", "w").write(json.dumps(seen))`,
          `    os.rename(${JSON.stringify(marker)} + ".tmp", ${JSON.stringify(marker)})`,
          '    time.sleep(600)',
        ]
      : [
          `    open(${JSON.stringify(marker)}, "w").write(json.dumps(dict(os.environ)))`,
          '    print("ENV-SEEN " + json.dumps(dict(os.environ)), file=sys.stderr)',
          '    sys.exit(1)',
        ];
  return [
    'import json, os, subprocess, sys, time',
    '',
    'def get_requires_for_build_sdist(config_settings=None):',
    '    return []',
    '',
    'def get_requires_for_build_wheel(config_settings=None):',
    '    return []',
    '',
    'def build_sdist(sdist_directory, config_settings=None):',
    ...body,
    '',
    'def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):',
    '    raise SystemExit("not reached")',
    '',
  ].join('\n');
}

async function repoWithBackend(dir: string, name: string, marker: string, mode: 'sleep' | 'print-env'): Promise<{ commit: string }> {
  const files: Record<string, string> = {
    [`packages/${name}/pyproject.toml`]: [
      '[build-system]',
      'requires = []',
      'build-backend = "repo_backend"',
      'backend-path = ["."]',
      '',
      '[project]',
      `name = "${name}"`,
      'version = "1.0.0"',
      '',
    ].join('\n'),
    [`packages/${name}/repo_backend.py`]: backend(marker, mode),
  };
  await mkdir(dir, { recursive: true });
  await git(dir, ['init', '--quiet', '--initial-branch=main']);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '--quiet', '-m', 'a package with its own build backend']);
  await git(dir, ['tag', 'v1.0.0']);
  return { commit: await git(dir, ['rev-parse', 'HEAD']) };
}

function buildConfig(repoDir: string, name: string) {
  return parseConfig(
    [
      'variants = []',
      '[repository]',
      'owner = "acme"',
      `name = "${name}"`,
      `url = "${repoDir}"`,
      '[[packages]]',
      `name = "${name}"`,
      `path = "packages/${name}"`,
      '[index]',
      'upload_url = "http://127.0.0.1:9/legacy/"',
      'simple_url = "http://127.0.0.1:9/simple/"',
      '[github_release]',
      'enabled = false',
      '',
    ].join('\n'),
    'test',
  );
}

async function alive(pids: readonly number[]): Promise<number[]> {
  const up: number[] = [];
  for (const pid of pids) if (await identify(pid)) up.push(pid);
  return up;
}

/** tagship's temporary directories under `dir` (a private HOME, a build's output, credentials). */
async function tagshipDirs(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /^tagship-(build|home|publish|auth|buildx)-/.test(n)).sort();
}

/**
 * A proxy in front of the index that passes an upload's body on except for its last byte, and
 * holds that until released: the index has started receiving the file but cannot have it whole.
 */
interface HoldingProxy {
  readonly url: string;
  /** True once an upload is being held. */
  holding(): boolean;
  /** What became of the held upload: 'client gone' when the uploader went away before the release. */
  outcome(): string | undefined;
  /** Sends the held byte if the uploader is still there. */
  release(): void;
  close(): Promise<void>;
}

async function startHoldingProxy(upstream: string): Promise<HoldingProxy> {
  let held: { release: () => void } | undefined;
  let outcome: string | undefined;
  const server: Server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', upstream);
    const up = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    if (req.method !== 'POST') {
      req.pipe(up);
      return;
    }
    let last: Buffer | undefined;
    let clientGone = false;
    req.on('data', (chunk: Buffer) => {
      if (last) up.write(last);
      last = chunk;
    });
    req.on('end', () => {
      // All but the final byte goes on; the index waits for the rest of the body.
      up.write(last!.subarray(0, last!.length - 1));
      held = {
        release: () => {
          if (clientGone) return;
          up.end(last!.subarray(last!.length - 1));
          outcome = 'released';
        },
      };
    });
    res.on('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      outcome = 'client gone';
      // As a real network would: the uploader's connection is gone, so is the index's.
      up.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    holding: () => held !== undefined,
    outcome: () => outcome,
    release: () => held?.release(),
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe('cancellation, secrets and leftovers on real parts', { timeout: 10 * 60_000 }, () => {
  let root: string;
  let scratch: string;
  let settings: WorkerSettings;
  let savedTmp: string | undefined;
  const savedSecrets: Record<string, string | undefined> = {};

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-cancel-e2e-'));
    // The activities' temporary directories, and the sweep, stay inside this test's own directory.
    scratch = join(root, 'tmp');
    await mkdir(scratch);
    savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = scratch;
    for (const [k, v] of Object.entries(SECRETS)) {
      savedSecrets[k] = process.env[k];
      process.env[k] = v;
    }
    settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts') };
    recordChildrenIn(childRecordDir(settings.workDir));
  });
  after(async () => {
    recordChildrenIn(undefined);
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    for (const [k, v] of Object.entries(savedSecrets)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('a cancelled build reports CancelledFailure, and uv, the build backend and what it started are gone with their temporary directories', async () => {
    const marker = join(root, 'sleeping-backend.json');
    const repoDir = join(root, 'repo-sleep');
    const { commit } = await repoWithBackend(repoDir, 'acme-sleepy', marker, 'sleep');
    const config = buildConfig(repoDir, 'acme-sleepy');
    const env = new MockActivityEnvironment();
    const run = env.run(buildPackage, settings, { config, tag: 'v1.0.0', commit, version: '1.0.0', package: 'acme-sleepy', dryRun: true });
    run.catch(() => undefined);
    const seen = await eventually(
      'the build backend to start its grandchild',
      async () => JSON.parse(await readFile(marker, 'utf8')) as { backend: number; grandchild: number; pgid: number; home: string; tmp: string },
      (s) => s.grandchild > 0,
      { timeoutMs: 120_000 },
    );
    const group = (await groupMembers(seen.pgid)).map((p) => p.pid);
    assert.ok(group.includes(seen.backend) && group.includes(seen.grandchild), `uv's process group holds the backend and its child: ${inspect(group)}`);
    assert.deepEqual(await alive([seen.pgid]), [seen.pgid], 'uv leads the group');
    assert.ok((await tagshipDirs(scratch)).some((n) => n.startsWith('tagship-build-')));

    env.cancel();
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof CancelledFailure, `the step reports its cancellation, not a failure to retry: ${inspect(err)}`);
    await eventually(
      'every process of the group to be gone',
      () => groupMembers(seen.pgid),
      (members) => members.length === 0,
    );
    assert.deepEqual(await alive([seen.backend, seen.grandchild]), []);
    assert.deepEqual(await tagshipDirs(scratch), [], 'the build output and the private HOME are removed');
    await assert.rejects(stat(seen.home), { code: 'ENOENT' });
    assert.deepEqual(await readdir(childRecordDir(settings.workDir)), [], 'no record of a running child is left');
  });

  it("a build backend sees none of the worker's secrets, and the failure it causes shows none", async () => {
    const marker = join(root, 'env-backend.json');
    const repoDir = join(root, 'repo-env');
    const { commit } = await repoWithBackend(repoDir, 'acme-nosy', marker, 'print-env');
    const config = buildConfig(repoDir, 'acme-nosy');
    const err = await new MockActivityEnvironment()
      .run(buildPackage, settings, { config, tag: 'v1.0.0', commit, version: '1.0.0', package: 'acme-nosy', dryRun: true })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApplicationFailure && err.type === 'BuildFailed', inspect(err));
    assert.match(err.message, /ENV-SEEN/, "the failure carries the backend's output");
    const seen = JSON.parse(await readFile(marker, 'utf8')) as Record<string, string>;
    for (const [name, value] of Object.entries(SECRETS)) {
      assert.ok(!err.message.includes(value), `${name} is in the failure text`);
      assert.ok(!JSON.stringify(seen).includes(value), `the backend saw ${name}`);
    }
    assert.deepEqual(
      Object.keys(seen).filter((k) => k.startsWith('TAGSHIP_')),
      [],
    );
    assert.notEqual(seen.HOME, process.env.HOME, "the backend does not get the worker's HOME");
    assert.ok(seen.PATH?.endsWith(`:${process.env.PATH}`), "the worker's PATH, behind uv's build environment");
  });

  describe('an upload cut off by a cancel', () => {
    let index: PypiServer;
    let proxy: HoldingProxy;
    before(async () => {
      index = await startPypiServer({ dataDir: join(root, 'index') });
      proxy = await startHoldingProxy(index.uploadUrl);
    });
    after(async () => {
      await proxy?.close();
      await index?.stop();
    });

    it('never lands on the index, and the same upload lands once nothing cuts it off', async () => {
      const indexSettings: WorkerSettings = { ...settings, index: { username: index.username, password: index.password } };
      const files = (await storeAll(indexSettings, await buildTinyPackage(root, 'acme-cutoff', '1.0.0', 'one'))).filter((f) => f.kind === 'sdist');
      const config = parseConfig(`[index]\nauth = "token"\nupload_url = "${proxy.url}"\nsimple_url = "${index.simpleUrl}"\n`, 'test');
      const env = new MockActivityEnvironment();
      const run = env.run(publishPackage, indexSettings, { config, package: 'acme-cutoff', version: '1.0.0', files });
      run.catch(() => undefined);
      await eventually('the upload to reach the index but for its last byte', () => proxy.holding(), Boolean);

      env.cancel();
      const err = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof CancelledFailure, inspect(err));
      // Were the uploader still connected, this would complete its upload.
      proxy.release();
      assert.equal(proxy.outcome(), 'client gone', 'uv publish was killed mid-request');
      assert.deepEqual(await listProjectFiles(index.simpleUrl, 'acme-cutoff'), [], 'nothing of the file is on the index');

      // The index and the proxy work: without a cancel the same upload lands.
      const direct = parseConfig(`[index]\nauth = "token"\nupload_url = "${index.uploadUrl}"\nsimple_url = "${index.simpleUrl}"\n`, 'test');
      const published = await publishPackage(indexSettings, { config: direct, package: 'acme-cutoff', version: '1.0.0', files });
      assert.deepEqual(
        published.uploaded,
        files.map((f) => f.filename),
      );
      assert.deepEqual(
        (await listProjectFiles(index.simpleUrl, 'acme-cutoff')).map((f) => f.sha256),
        files.map((f) => f.sha256),
      );
    });
  });

  it('the sweep at worker start kills the process groups and removes the temporary directories of a worker killed with -9, and leaves a live worker its own', async () => {
    const pidFile = join(root, 'orphan.json');
    const credentialFile = join(root, 'orphan-auth.txt');
    const script = join(root, 'doomed-worker.mts');
    // A worker that starts a child (which starts a grandchild), holds a build directory and a
    // credential file, and is then killed with -9 mid-step.
    await writeFile(
      script,
      [
        `import { writeFile } from 'node:fs/promises';`,
        `import { join } from 'node:path';`,
        `import { childRecordDir, ownedTempDir, recordChildrenIn } from ${JSON.stringify(join(REPO_ROOT, 'activities/lib/leftovers.ts'))};`,
        `import { runChild } from ${JSON.stringify(join(REPO_ROOT, 'activities/lib/child-process.ts'))};`,
        `recordChildrenIn(childRecordDir(${JSON.stringify(settings.workDir)}));`,
        `await ownedTempDir('build');`,
        `const auth = await ownedTempDir('auth');`,
        `await writeFile(join(auth, 'config.json'), '{"auths":{}}', { mode: 0o600 });`,
        `await writeFile(${JSON.stringify(credentialFile)}, auth);`,
        `const grandchild = "import time; time.sleep(600)";`,
        `const parent = "import json, os, subprocess, sys, time\\ng = subprocess.Popen([sys.executable, '-c', " + JSON.stringify(grandchild) + "])\\nopen(" + JSON.stringify(${JSON.stringify(pidFile)} + '.tmp') + ", 'w').write(json.dumps([os.getpid(), g.pid]))\\nos.rename(" + JSON.stringify(${JSON.stringify(pidFile)} + '.tmp') + ", " + JSON.stringify(${JSON.stringify(pidFile)}) + ")\\ntime.sleep(600)";`,
        `await runChild(${JSON.stringify(tools.python3())}, ['-c', parent]);`,
      ].join('\n'),
    );
    const doomed = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, env: { ...process.env, TMPDIR: scratch }, stdio: 'inherit' });
    const [leader, grandchild] = await eventually(
      "the doomed worker's child to start its grandchild",
      async () => JSON.parse(await readFile(pidFile, 'utf8')) as number[],
      (p) => p.length === 2,
      { timeoutMs: 60_000 },
    );
    const authDir = await readFile(credentialFile, 'utf8');
    await eventually(
      'the child to be recorded',
      () => readdir(childRecordDir(settings.workDir)),
      (n) => n.length === 1,
    );
    doomed.kill('SIGKILL');
    await eventually(
      'the doomed worker to be gone',
      () => alive([doomed.pid!]),
      (a) => a.length === 0,
    );
    assert.deepEqual(await alive([leader!, grandchild!]), [leader, grandchild], 'kill -9 of a worker leaves its child and grandchild running');

    // This (live) worker's own running child and directory, and what is not tagship's to remove.
    const mine = await ownedTempDir('build');
    const liveAbort = new AbortController();
    const live = runChild(tools.python3(), ['-c', 'import time; time.sleep(600)'], { signal: liveAbort.signal });
    live.catch(() => undefined);
    await eventually(
      'the live child to be recorded',
      () => readdir(childRecordDir(settings.workDir)),
      (n) => n.length === 2,
    );
    const old = new Date(Date.now() - 3600_000);
    const unowned = join(scratch, 'tagship-build-Ab12Cd');
    const notOurs = join(scratch, 'tagship-publish-Xy34Zw');
    for (const d of [unowned, notOurs]) {
      await mkdir(d);
      await utimes(d, old, old);
    }

    const report = await sweepLeftovers(settings);
    assert.deepEqual(
      report.killed.map((k) => [k.pgid, k.command, k.processes]),
      [[leader, 'python3', 2]],
      inspect(report),
    );
    await eventually(
      'the orphaned group to be gone',
      () => alive([leader!, grandchild!]),
      (a) => a.length === 0,
    );
    assert.ok(report.removed.includes(authDir), `the credential directory is removed: ${inspect(report)}`);
    await assert.rejects(stat(authDir), { code: 'ENOENT' });
    assert.ok(report.removed.includes(unowned), 'a build directory of an older tagship, older than this worker, is removed');
    const left = await tagshipDirs(scratch);
    assert.deepEqual(
      left.filter((n) => n.startsWith('tagship-build-')),
      [mine.slice(scratch.length + 1)],
      "only this worker's own build directory is left",
    );
    assert.ok(left.includes('tagship-publish-Xy34Zw'), 'a directory not named for a worker is not touched');
    assert.equal((await readdir(childRecordDir(settings.workDir))).length, 1, "the live worker's child is still recorded");

    liveAbort.abort();
    await assert.rejects(live, CancelledFailure);
    await rm(mine, { recursive: true, force: true });
  });
});
