// Uploading and waiting for visibility against a real pypiserver, with failures injected by a proxy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parseConfig } from '../src/config/load';
import type { TagshipConfig } from '../src/config/schema';
import { startPypiServer } from '../src/dev/stack/pypiserver';
import type { WorkerSettings } from '../activities/lib/settings';
import { artifactPath } from '../activities/lib/artifact-store';
import { publishPackage } from '../activities/publish-package';
import { listProjectFiles } from '../activities/lib/simple-index';
import { waitUntilVisible } from '../activities/wait-visible';
import { startFlakyProxy, type FlakyProxy } from './support/flaky-proxy';
import { buildTinyPackage, storeAll } from './support/tiny-package';

describe('publish and visibility activities', { timeout: 5 * 60_000 }, () => {
  let root: string;
  let index: Awaited<ReturnType<typeof startPypiServer>>;
  let proxy: FlakyProxy;
  let settings: WorkerSettings;
  let config: TagshipConfig;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-publish-'));
    index = await startPypiServer({ dataDir: join(root, 'index') });
    proxy = await startFlakyProxy(index.uploadUrl);
    settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts'), index: { username: index.username, password: index.password } };
    config = parseConfig(`[index]\nauth = "token"\nupload_url = "${proxy.url}"\nsimple_url = "${proxy.url}simple/"\n`, 'test');
  });
  after(async () => {
    await proxy?.close();
    await index?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('uploads the stored bytes, then treats a second publish of the same bytes as done', async () => {
    const files = await storeAll(settings, await buildTinyPackage(root, 'tagship-demo-a', '1.0.0', 'one'));
    const first = await publishPackage(settings, { config, package: 'tagship-demo-a', version: '1.0.0', files });
    assert.deepEqual(
      first.uploaded,
      files.map((f) => f.filename),
    );
    const listed = await listProjectFiles(index.simpleUrl, 'tagship-demo-a');
    assert.deepEqual(
      listed.map((f) => [f.filename, f.sha256]),
      files.map((f) => [f.filename, f.sha256]),
    );

    const again = await publishPackage(settings, { config, package: 'tagship-demo-a', version: '1.0.0', files });
    assert.deepEqual(again.uploaded, []);
    assert.deepEqual(
      again.alreadyPresent,
      files.map((f) => f.filename),
    );
  });

  it('refuses, without retrying, a file name the index has with other bytes, naming both hashes', async () => {
    // Its own package on the index first, then other bytes under the same file names.
    const published = await storeAll(settings, await buildTinyPackage(root, 'tagship-demo-g', '1.0.0', 'one'));
    await publishPackage(settings, { config, package: 'tagship-demo-g', version: '1.0.0', files: published });
    const other = await storeAll(settings, await buildTinyPackage(root, 'tagship-demo-g', '1.0.0', 'two'));
    const onIndex = (await listProjectFiles(index.simpleUrl, 'tagship-demo-g'))[0]!;
    await assert.rejects(publishPackage(settings, { config, package: 'tagship-demo-g', version: '1.0.0', files: other }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, true);
      assert.equal(err.type, 'IndexFileConflict');
      assert.match(err.message, new RegExp(`sha256 ${onIndex.sha256}.*sha256 ${other[0]!.sha256}`));
      return true;
    });
  });

  it('reports an index error as retryable, and the next attempt succeeds', async () => {
    const files = await storeAll(settings, await buildTinyPackage(root, 'tagship-demo-b', '2.0.0', 'b'));
    proxy.fail([500, 500, 500, 500, 500, 500, 500, 500], (req) => req.method === 'POST');
    try {
      await assert.rejects(publishPackage(settings, { config, package: 'tagship-demo-b', version: '2.0.0', files }), (err: unknown) => {
        assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable), 'a 500 must be retried');
        assert.match(String(err), /500/);
        return true;
      });
    } finally {
      // Whatever happened, the next requests (and tests) reach the index.
      proxy.fail([], () => false);
    }
    const ok = await publishPackage(settings, { config, package: 'tagship-demo-b', version: '2.0.0', files });
    assert.deepEqual(
      ok.uploaded,
      files.map((f) => f.filename),
    );
  });

  it('refuses wrong credentials permanently, without the password in the message', async () => {
    const files = await storeAll(settings, await buildTinyPackage(root, 'tagship-demo-c', '3.0.0', 'c'));
    const wrong: WorkerSettings = { ...settings, index: { username: index.username, password: 'not-the-password-xyz' } };
    await assert.rejects(publishPackage(wrong, { config, package: 'tagship-demo-c', version: '3.0.0', files }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable, String(err));
      assert.ok(!err.message.includes('not-the-password-xyz'));
      return true;
    });
  });

  it('publishes from another worker the exact bytes a worker that died built, via the shared artifact store', async () => {
    const builder: WorkerSettings = { ...settings, workDir: join(root, 'worker-a') };
    const files = await storeAll(builder, await buildTinyPackage(root, 'tagship-demo-e', '5.0.0', 'e'));
    await rm(builder.workDir, { recursive: true, force: true });
    const publisher: WorkerSettings = { ...settings, workDir: join(root, 'worker-b') };
    await publishPackage(publisher, { config, package: 'tagship-demo-e', version: '5.0.0', files });
    const listed = await listProjectFiles(index.simpleUrl, 'tagship-demo-e');
    assert.deepEqual(listed.map((f) => f.sha256).sort(), files.map((f) => f.sha256).sort());
  });

  it('refuses to publish a stored file whose bytes changed, naming both hashes', async () => {
    const files = await storeAll(settings, await buildTinyPackage(root, 'tagship-demo-f', '6.0.0', 'f'));
    await appendFile(artifactPath(settings.artifactDir, files[0]!.sha256), 'tampered');
    await assert.rejects(publishPackage(settings, { config, package: 'tagship-demo-f', version: '6.0.0', files }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable);
      assert.equal(err.type, 'ArtifactCorrupt');
      assert.match(err.message, new RegExp(`expected ${files[0]!.sha256}`));
      return true;
    });
    assert.deepEqual(await listProjectFiles(index.simpleUrl, 'tagship-demo-f'), []);
  });

  it('waits out a throttling Simple API until every file is listed', async () => {
    const files = await storeAll(settings, await buildTinyPackage(root, 'tagship-demo-d', '4.0.0', 'd'));
    await publishPackage(settings, { config, package: 'tagship-demo-d', version: '4.0.0', files });
    proxy.fail([429, 503, 429], (req) => req.method === 'GET' && (req.url ?? '').includes('tagship-demo-d'));
    const heartbeats: unknown[] = [];
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    let result: { polls: number };
    try {
      result = await env.run(waitUntilVisible, { config, package: 'tagship-demo-d', files, pollIntervalMs: 50 });
    } finally {
      proxy.fail([], () => false);
    }
    assert.equal(result.polls, 4);
    assert.deepEqual(heartbeats, [1, 2, 3]);
  });
});
