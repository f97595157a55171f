// Moving tags under concurrent releases, against a real registry (docker-registry). One writer
// reaches the registry through a proxy that holds its PUT of a moving tag back until another
// release has finished: the write lands late, over a link no writer controls. Whatever lands when,
// the tag must end on the newest stable release, and each writer must say truthfully whether the
// tag ended on its version. Images are small OCI indexes pushed through the registry API
// (test/support/oci-index.ts); moveTags is what a release's image step runs after its push, and
// retagLatest is the scheduled re-publish's activity.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { moveTags } from '../activities/lib/image-tags';
import { parseImageRepository, RegistryClient } from '../activities/lib/registry-client';
import { retagLatest } from '../activities/retag-latest';
import { parseConfig } from '../src/config/load';
import type { TagshipConfig } from '../src/config/schema';
import type { RetagLatestResult } from '../src/contract/activities';
import type { MovingTagDecision } from '../src/contract/release';
import { startRegistry, type LocalRegistry } from '../src/dev/stack/registry';
import { startDelayingProxy, type DelayingProxy } from './support/delaying-proxy';
import { pushIndex } from './support/oci-index';

const TAGS = '["{version}-{variant}", "{major}.{minor}-{variant}", "{variant}-latest"]';

describe('moving tags under concurrent releases', { timeout: 5 * 60_000 }, () => {
  let root: string;
  let registry: LocalRegistry;
  let proxy: DelayingProxy;
  let other: DelayingProxy;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-moving-'));
    registry = await startRegistry({ dataDir: join(root, 'registry') });
    proxy = await startDelayingProxy(`http://${registry.host}`);
    other = await startDelayingProxy(`http://${registry.host}`);
  });
  after(async () => {
    await other?.close();
    await proxy?.close();
    await registry?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** One image repository per test; `direct` talks to the registry, `late` and `slow` each through a proxy of their own. */
  function repo(name: string) {
    const configAt = (host: string): TagshipConfig =>
      parseConfig(`[images]\nrepository = "${host}/softoft-orga/${name}"\ninsecure = true\ntags = ${TAGS}\n`, 'tagship.toml');
    const direct = configAt(registry.host);
    const late = configAt(proxy.host);
    const slow = configAt(other.host);
    const clientOf = (config: TagshipConfig) => new RegistryClient(parseImageRepository(config.images.repository), { insecure: true });
    const client = clientOf(direct);
    const path = (what: string) => `/v2/softoft-orga/${name}/${what}`;
    return {
      direct,
      late,
      slow,
      client,
      /** A release of core: its immutable tag pushed to the registry, then its moving tags moved through `via`. */
      async release(version: string, via: TagshipConfig = direct): Promise<{ digest: string; moving: MovingTagDecision[] }> {
        const pushed = await pushIndex(direct, client, version, 'core');
        return { digest: pushed.digest, moving: await moveTags(clientOf(via), via, 'core', version, pushed) };
      },
      /** Holds the next `method` of `what` ("manifests/<tag>", "tags/list") in this repository at the proxy (of `slow` with `at`). */
      hold(method: string, what: string, at: DelayingProxy = proxy) {
        return at.hold((m, p) => m === method && p.split('?')[0] === path(what));
      },
      holdPut(tag: string) {
        return this.hold('PUT', `manifests/${tag}`);
      },
      digestOf: async (tag: string) => (await client.getManifest(tag))?.digest,
    };
  }

  const on = (moving: readonly MovingTagDecision[], tag: string) => moving.find((d) => d.tag === tag);

  it("an older release's core-latest PUT landing after a newer release finished leaves core-latest on the newer one", async () => {
    const r = repo('late-put');
    await r.release('3.0.0');
    const held = r.holdPut('core-latest');
    const older = r.release('3.1.0', r.late);
    await held.arrived;
    const newer = await r.release('3.1.1');
    assert.equal(on(newer.moving, 'core-latest')?.moved, true, '3.1.1 moved core-latest');
    assert.equal(await r.digestOf('core-latest'), newer.digest, 'core-latest is on 3.1.1 when 3.1.1 finishes');

    held.release();
    const result = await older;
    assert.equal(await r.digestOf('core-latest'), newer.digest, 'core-latest ends on 3.1.1');
    assert.deepEqual(on(result.moving, 'core-latest'), { tag: 'core-latest', moved: false, reason: '3.1.1 was released meanwhile; core-latest follows it' });
    // 3.1.0 had moved 3.1-core before 3.1.1 existed; when 3.1.0 finished, 3.1.1 had moved it on.
    assert.equal(await r.digestOf('3.1-core'), newer.digest);
    assert.equal(on(result.moving, '3.1-core')?.reason, '3.1.1 was released meanwhile; 3.1-core follows it');
  });

  it("a newer release that reads an older release's late PUT back puts its own again and reports moved", async () => {
    const r = repo('late-read-back');
    await r.release('3.0.0');
    const olderPut = r.holdPut('core-latest');
    const older = r.release('3.1.0', r.late);
    await olderPut.arrived;
    // 3.1.1 puts core-latest; before it reads the tag back, 3.1.0's PUT lands, and 3.1.0's own
    // re-check waits until 3.1.1 has finished.
    const newerPut = r.hold('PUT', 'manifests/core-latest', other);
    const newer = r.release('3.1.1', r.slow);
    await newerPut.arrived;
    const newerReadBack = r.hold('GET', 'manifests/core-latest', other);
    newerPut.release();
    await newerReadBack.arrived;
    const olderRecheck = r.hold('GET', 'tags/list');
    olderPut.release();
    await olderRecheck.arrived;
    assert.notEqual(await r.digestOf('core-latest'), await r.digestOf('3.1.1-core'), "3.1.0's PUT landed after 3.1.1's");
    newerReadBack.release();
    const finished = await newer;
    olderRecheck.release();
    const result = await older;

    assert.equal(on(finished.moving, 'core-latest')?.moved, true, '3.1.1 put core-latest back and says so');
    assert.equal(await r.digestOf('core-latest'), finished.digest);
    assert.equal(on(result.moving, 'core-latest')?.reason, '3.1.1 was released meanwhile; core-latest follows it');
  });

  it('a late repair is repaired again: core-latest ends on the newest of three releases', async () => {
    const r = repo('late-repair');
    await r.release('3.0.0');
    const first = r.holdPut('core-latest');
    const older = r.release('3.1.0', r.late);
    await first.arrived;
    const middle = await r.release('3.1.1');
    // 3.1.0's own PUT lands now; its copy of 3.1.1 onto core-latest is held until 3.1.2 finished.
    const repair = r.holdPut('core-latest');
    first.release();
    await repair.arrived;
    const newest = await r.release('3.1.2');
    assert.equal(on(newest.moving, 'core-latest')?.moved, true);
    repair.release();
    const result = await older;

    assert.equal(await r.digestOf('core-latest'), newest.digest, 'core-latest ends on 3.1.2');
    assert.equal(on(result.moving, 'core-latest')?.reason, '3.1.2 was released meanwhile; core-latest follows it');
    assert.equal(on(middle.moving, 'core-latest')?.moved, true, '3.1.1 saw core-latest on itself when it finished');
  });

  it("the scheduled re-publish's PUT landing after a release finished leaves the tag on that release", async () => {
    const r = repo('late-retag');
    await r.release('3.0.0');
    const current = await r.release('3.1.0');
    // Moved back by hand, so the re-publish has something to put right.
    await r.client.putManifest('core-latest', (await r.client.getManifest('3.0.0-core'))!);
    const held = r.holdPut('core-latest');
    const retag = new MockActivityEnvironment().run<[], RetagLatestResult, () => Promise<RetagLatestResult>>(() =>
      retagLatest({ workDir: root, artifactDir: root }, { config: r.late, variant: 'core' }),
    );
    await held.arrived;
    const released = await r.release('3.1.1');
    held.release();
    const result = await retag;

    assert.equal(await r.digestOf('core-latest'), released.digest, 'core-latest ends on 3.1.1, not on the 3.1.0 copied late');
    assert.notEqual(released.digest, current.digest);
    const latest = result.tags?.find((t) => t.tag === 'core-latest');
    assert.deepEqual([latest?.outcome, latest?.version, latest?.reason], ['moved', '3.1.1', 'now 3.1.1, released while re-tagging']);
    assert.equal(on(released.moving, 'core-latest')?.moved, true);
  });
});
