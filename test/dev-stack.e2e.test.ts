// `tagship dev` owns its servers: they die with it, even on kill -9, so a restart starts its own
// instead of talking to leftovers; a second dev on a running stack is refused; a port something
// else holds stops the start with that port and process named; what a dead owner left running is
// stopped on restart, and nothing else is; the stack's private files are its user's alone.
// Every dev here has its own data dir and free ports, so nothing collides with other test files.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { generateKeySpec, parseKeyRing } from '../src/codec/encryption-codec';
import { startEmbeddedStack, workerSettingsForStack } from '../src/dev/stack/embedded';
import { portFree } from '../src/dev/stack/ports';
import { processInfo } from '../src/dev/stack/process-table';
import { SERVICE_TOKEN_ENV, freePort, httpOk } from '../src/dev/stack/service';
import { StackInUseError } from '../src/dev/stack/stack-state';
import { temporalAnswers } from '../src/dev/stack/temporal';
import { tools } from '../activities/lib/tools';
import { eventually } from './support/eventually';

const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));

interface Ports {
  readonly temporal: number;
  readonly ui: number;
  readonly index: number;
  readonly registry: number;
}

interface Dev {
  readonly process: ResultPromise;
  readonly ports: Ports;
  readonly dataDir: string;
  output(): string;
}

async function freePorts(): Promise<Ports> {
  return { temporal: await freePort(), ui: await freePort(), index: await freePort(), registry: await freePort() };
}

function devArgs(dataDir: string, ports: Ports): string[] {
  return [
    BIN,
    'dev',
    '--data-dir',
    dataDir,
    '--port',
    String(ports.temporal),
    '--ui-port',
    String(ports.ui),
    '--index-port',
    String(ports.index),
    '--registry-port',
    String(ports.registry),
  ];
}

/** `tagship dev`, once it says the stack is up; fails with its output if it exits first. */
async function startDev(dataDir: string, ports: Ports): Promise<Dev> {
  const dev = execa('node', devArgs(dataDir, ports), { reject: false, all: true, buffer: false });
  let output = '';
  dev.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const up = await eventually(
    'tagship dev to say "stack is up"',
    () => ({ output, exited: dev.exitCode !== null }),
    (s) => s.output.includes('stack is up') || s.exited,
    { timeoutMs: 180_000, intervalMs: 200, show: (s) => `${s.exited ? `exited with ${dev.exitCode}; ` : ''}output:\n${s.output}` },
  );
  if (!up.output.includes('stack is up')) {
    await dev;
    assert.fail(`tagship dev exited (${dev.exitCode}) before the stack was up:\n${output}`);
  }
  return { process: dev, ports, dataDir, output: () => output };
}

/** `tagship dev` that is expected to refuse to start: its exit code and what it printed. */
async function refusedDev(dataDir: string, ports: Ports) {
  const result = await execa('node', devArgs(dataDir, ports), { reject: false, all: true, timeout: 180_000 });
  assert.ok(!result.all.includes('stack is up'), `tagship dev must not report a stack:\n${result.all}`);
  return result;
}

async function healthy(ports: Ports): Promise<{ temporal: boolean; registry: boolean; index: boolean; ui: boolean }> {
  return {
    temporal: await temporalAnswers(`127.0.0.1:${ports.temporal}`, 'default'),
    registry: await httpOk(`http://127.0.0.1:${ports.registry}/v2/`),
    index: await httpOk(`http://127.0.0.1:${ports.index}/simple/`),
    ui: await httpOk(`http://127.0.0.1:${ports.ui}/`),
  };
}

async function allFree(ports: Ports): Promise<Record<keyof Ports, boolean>> {
  return {
    temporal: await portFree(ports.temporal),
    ui: await portFree(ports.ui),
    index: await portFree(ports.index),
    registry: await portFree(ports.registry),
  };
}

/** The processes `pid` started, with their start times (pids are reused; a pid alone proves nothing). */
function childrenOf(pid: number): { pid: number; startTime: number; command: string }[] {
  const children = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== pid) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      children.push({ pid: Number(entry), startTime: Number(fields[19]), command });
    } catch {
      // Gone while we looked.
    }
  }
  return children;
}

/** Still running as the same process (a zombie waiting for its reaper holds nothing and counts as gone). */
function running(p: { pid: number; startTime: number }): boolean {
  const info = processInfo(p.pid);
  return info !== undefined && !info.zombie && info.startTime === p.startTime;
}

async function mode(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8);
}

describe('tagship dev owns its servers', { timeout: 15 * 60_000 }, () => {
  let root: string;
  const devs: Dev[] = [];
  const others: ResultPromise[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-dev-stack-'));
  });

  after(async () => {
    for (const dev of devs) if (dev.process.exitCode === null) dev.process.kill('SIGKILL');
    for (const p of others) if (p.exitCode === null) p.kill('SIGKILL');
    await Promise.allSettled([...devs.map((d) => d.process), ...others]);
    await rm(root, { recursive: true, force: true });
  });

  it('kill -9 of tagship dev takes every server with it, and a restart comes up on its own servers', async () => {
    const dataDir = join(root, 'killed');
    const ports = await freePorts();
    const first = await startDev(dataDir, ports);
    devs.push(first);
    const pid = first.process.pid;
    assert.ok(pid);
    const children = childrenOf(pid);
    for (const server of ['temporal', 'docker-registry', 'pypi-server']) {
      assert.ok(
        children.some((c) => c.command.includes(server)),
        `${server} runs under tagship dev: ${children.map((c) => c.command).join('\n')}`,
      );
    }

    first.process.kill('SIGKILL');
    await first.process;
    await eventually(
      'every child of the killed tagship dev to be gone',
      () => children.filter(running),
      (left) => left.length === 0,
      {
        timeoutMs: 30_000,
        show: (left) => left.map((c) => `${c.pid} ${c.command}`).join('\n'),
      },
    );
    await eventually(
      "the killed stack's ports to be free",
      () => allFree(ports),
      (free) => Object.values(free).every(Boolean),
      { timeoutMs: 30_000 },
    );

    const second = await startDev(dataDir, ports);
    devs.push(second);
    assert.deepEqual(await healthy(ports), { temporal: true, registry: true, index: true, ui: true });
    // What answers is the restart's own: every port's server is a child of the new tagship dev.
    assert.ok(second.process.pid);
    const now = childrenOf(second.process.pid);
    assert.equal(now.filter((c) => /temporal|docker-registry|pypi-server/.test(c.command)).length, 3, now.map((c) => c.command).join('\n'));

    // The terminal closing (SIGHUP) stops it in order, like Ctrl-C.
    second.process.kill('SIGHUP');
    const result = await second.process;
    assert.equal(result.exitCode, 0, second.output());
    assert.deepEqual(await allFree(ports), { temporal: true, ui: true, index: true, registry: true });
    assert.deepEqual(now.filter(running), []);
  });

  it('a second tagship dev on a running stack is refused, naming its owner, and the running one is untouched', async () => {
    const dataDir = join(root, 'shared');
    const ports = await freePorts();
    const owner = await startDev(dataDir, ports);
    devs.push(owner);

    // Same data dir, other ports: the stack is the running dev's, whatever ports are asked for.
    const again = await refusedDev(dataDir, await freePorts());
    assert.equal(again.exitCode, 1, again.all);
    assert.match(
      again.all,
      new RegExp(`the dev stack in ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is already running, owned by pid ${owner.process.pid}`),
    );
    assert.match(again.all, /docker-registry answers/);

    assert.deepEqual(await healthy(ports), { temporal: true, registry: true, index: true, ui: true });
    owner.process.kill('SIGINT');
    assert.equal((await owner.process).exitCode, 0, owner.output());
  });

  it('a port held by another process stops tagship dev with the port and that process named; the holder keeps it', async () => {
    const ports = await freePorts();
    const holder = execa(tools.python3(), ['-m', 'http.server', '--bind', '127.0.0.1', String(ports.registry)], { reject: false, cwd: root });
    others.push(holder);
    await eventually('the foreign listener to answer', () => httpOk(`http://127.0.0.1:${ports.registry}/`), Boolean);

    const result = await refusedDev(join(root, 'foreign'), ports);
    assert.equal(result.exitCode, 1, result.all);
    assert.match(result.all, new RegExp(`port ${ports.registry} \\(for docker-registry\\) is already in use by pid ${holder.pid} \\(.*http\\.server`));
    assert.match(result.all, /--registry-port/);
    assert.equal(holder.exitCode, null, 'the foreign listener keeps running');
    assert.ok(await httpOk(`http://127.0.0.1:${ports.registry}/`));
    // Nothing of the refused stack stays behind.
    assert.deepEqual(
      { temporal: await portFree(ports.temporal), ui: await portFree(ports.ui), index: await portFree(ports.index) },
      { temporal: true, ui: true, index: true },
    );
  });

  it('a restart stops the servers a dead owner left running, and never a process that only reuses a recorded pid', async () => {
    // What the kernel's parent-death signal leaves nothing for on Linux, but a crash elsewhere can:
    // a registry still serving this data dir for an owner that is gone, as its state file records.
    const dataDir = join(root, 'orphaned');
    const ports = await freePorts();
    await mkdir(join(dataDir, 'registry', 'storage'), { recursive: true, mode: 0o700 });
    const config = join(dataDir, 'registry', 'config.yml');
    await writeFile(
      config,
      JSON.stringify({
        version: 0.1,
        storage: { filesystem: { rootdirectory: join(dataDir, 'registry', 'storage') } },
        http: { addr: `127.0.0.1:${ports.registry}` },
      }),
    );
    const token = 'a1'.repeat(12);
    const orphan = execa(tools.dockerRegistry(), ['serve', config], { reject: false, detached: true, env: { [SERVICE_TOKEN_ENV]: token } });
    // An unrelated process that happens to hold a pid the state file names (with another start time, no token).
    const bystander = execa('sleep', ['600'], { reject: false });
    others.push(orphan, bystander);
    await eventually('the orphaned registry to answer', () => httpOk(`http://127.0.0.1:${ports.registry}/v2/`), Boolean);
    const deadOwner = await execa('node', ['-e', 'console.log(process.pid)']);
    const orphanInfo = processInfo(orphan.pid ?? -1);
    const bystanderInfo = processInfo(bystander.pid ?? -1);
    assert.ok(orphanInfo && bystanderInfo);
    await writeFile(
      join(dataDir, 'stack.json'),
      JSON.stringify({
        version: 1,
        stackId: 'b2'.repeat(16),
        owner: { pid: Number(deadOwner.stdout), startTime: 1 },
        services: [
          {
            name: 'docker-registry',
            pid: orphanInfo.pid,
            pgid: orphanInfo.pgid,
            startTime: orphanInfo.startTime,
            token,
            ports: [ports.registry],
            health: { kind: 'http', url: `http://127.0.0.1:${ports.registry}/v2/` },
          },
          {
            name: 'pypiserver',
            pid: bystanderInfo.pid,
            pgid: bystanderInfo.pgid,
            startTime: bystanderInfo.startTime + 1,
            token: 'c3'.repeat(12),
            ports: [ports.index],
            health: { kind: 'http', url: `http://127.0.0.1:${ports.index}/simple/` },
          },
        ],
      }),
      { mode: 0o600 },
    );

    const dev = await startDev(dataDir, ports);
    devs.push(dev);
    assert.match(
      dev.output(),
      new RegExp(`stopped docker-registry \\(pid ${orphanInfo.pid}\\) left running by an earlier stack whose owner, pid ${deadOwner.stdout}, is gone`),
    );
    assert.equal(running(orphanInfo), false, 'the orphaned registry was stopped');
    assert.equal(running(bystanderInfo), true, 'the process that only reuses a recorded pid still runs');
    assert.ok(dev.process.pid);
    const registry = childrenOf(dev.process.pid).find((c) => c.command.includes('docker-registry'));
    assert.ok(registry, "the registry on the port is the new dev's own");
    assert.ok(await httpOk(`http://127.0.0.1:${ports.registry}/v2/`));
    dev.process.kill('SIGINT');
    assert.equal((await dev.process).exitCode, 0, dev.output());
  });

  it("the stack's private files (htpasswd, codec keys, state) are 0600 in a 0700 data dir, also when they were wider before", async () => {
    const dataDir = join(root, 'private');
    await mkdir(dataDir, { recursive: true, mode: 0o755 });
    await chmod(dataDir, 0o755);
    const keySpec = generateKeySpec('dev');
    await writeFile(join(dataDir, 'codec-keys'), keySpec, { mode: 0o644 });
    await chmod(join(dataDir, 'codec-keys'), 0o644);

    const dev = await startDev(dataDir, await freePorts());
    devs.push(dev);
    assert.deepEqual(
      {
        dataDir: await mode(dataDir),
        codecKeys: await mode(join(dataDir, 'codec-keys')),
        state: await mode(join(dataDir, 'stack.json')),
        indexDir: await mode(join(dataDir, 'index')),
        htpasswd: await mode(join(dataDir, 'index', 'htpasswd')),
        registryConfig: await mode(join(dataDir, 'registry', 'config.yml')),
      },
      { dataDir: '700', codecKeys: '600', state: '600', indexDir: '700', htpasswd: '600', registryConfig: '600' },
    );
    // The keys a persistent stack's history was encrypted with are kept, not replaced.
    assert.equal(await readFile(join(dataDir, 'codec-keys'), 'utf8'), keySpec);
    dev.process.kill('SIGINT');
    assert.equal((await dev.process).exitCode, 0, dev.output());
  });
});

describe('the embedded stack API', { timeout: 5 * 60_000 }, () => {
  it('gives its worker the codec keys of its data dir and refuses a second start there while it runs', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tagship-stack-api-'));
    const stack = await startEmbeddedStack({ dataDir, headless: true, baseImage: false });
    try {
      const settings = workerSettingsForStack(stack);
      assert.ok(settings.codec, 'the stack worker encrypts payloads');
      assert.deepEqual(settings.codec, parseKeyRing(await readFile(join(dataDir, 'codec-keys'), 'utf8')));
      await assert.rejects(startEmbeddedStack({ dataDir, headless: true, baseImage: false }), (err: unknown) => {
        assert.ok(err instanceof StackInUseError, String(err));
        assert.equal(err.ownerPid, process.pid);
        return true;
      });
      // The refused start took nothing from the running one.
      assert.ok(await temporalAnswers(stack.temporal.address, stack.temporal.namespace));
      assert.ok(await httpOk(`http://${stack.registry.host}/v2/`));
    } finally {
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
    await assert.rejects(stat(join(dataDir, 'stack.json')));
  });
});
