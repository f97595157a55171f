import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import {
  decideMovingTags,
  immutableTags,
  movingTagTargets,
  movingTemplates,
  moveTags,
  newestInFamily,
  renderTag,
  SETTLE_ROUNDS,
  versionsInRegistry,
  type ImageTagsConfig,
} from '../../activities/lib/image-tags';
import type { Manifest, RegistryClient } from '../../activities/lib/registry-client';
import { DEFAULT_IMAGE_TAGS } from '../../src/config/schema';
import type { MovingTagDecision } from '../../src/contract/release';
import { compareVersions, isStable, parseVersion } from '../../src/contract/version';
import { fuzz } from '../support/fuzz';

const cfg = (tags: readonly string[]): ImageTagsConfig => ({ images: { tags: [...tags] } });
const FAMILIES = cfg(['{version}-{variant}', '{major}.{minor}-{variant}', '{major}-{variant}', '{variant}-latest']);
const SINGLE = cfg(['{version}', '{major}.{minor}', '{major}', 'latest']);

function decisions(tags: readonly string[], config: ImageTagsConfig, version: string, variant = 'core'): Record<string, string> {
  return Object.fromEntries(decideMovingTags(tags, config, variant, version).map((d) => [d.tag, `${d.moved ? 'moved' : 'kept'}: ${d.reason}`]));
}

describe('tag templates', () => {
  it('renders every placeholder', () => {
    assert.equal(renderTag('{version}-{variant}', '1.0.18.post1', 'core'), '1.0.18.post1-core');
    assert.equal(renderTag('{major}.{minor}.{patch}-{variant}', '1.2.3rc1', 'hf_local'), '1.2.3-hf_local');
    assert.equal(renderTag('latest', '1.2.3', 'core'), 'latest');
    assert.throws(() => renderTag('{major}', 'nope', 'core'), /not a version/);
  });

  it('splits immutable from moving templates; immutable tags keep config order without duplicates', () => {
    const config = cfg(['{variant}-latest', '{version}-{variant}', 'v{version}-{variant}', '{version}-{variant}', '{major}-{variant}']);
    assert.deepEqual(immutableTags(config, 'core', '1.0.18'), ['1.0.18-core', 'v1.0.18-core']);
    assert.deepEqual(movingTemplates(config), ['{variant}-latest', '{major}-{variant}']);
    assert.deepEqual(immutableTags(cfg(DEFAULT_IMAGE_TAGS), 'all', '2.0.0'), ['2.0.0-all']);
  });

  it('reads versions back through the first {version} template only, for one variant', () => {
    const tags = ['1.0.17-core', '1.0.18-core', '1.1.0rc1-core', '1.0-core', 'core-latest', '1.0.20-all', '1.0.21-x_core', 'v9.9.9-core', 'garbage'];
    const config = cfg(['{version}-{variant}', 'v{version}-{variant}', '{variant}-latest']);
    assert.deepEqual(versionsInRegistry(tags, config, 'core'), ['1.0.17', '1.0.18', '1.1.0rc1']);
    assert.deepEqual(versionsInRegistry(tags, config, 'all'), ['1.0.20']);
    assert.deepEqual(versionsInRegistry(['1.0.0', '1.0', '1', 'latest', '0.9.0.post2'], SINGLE, 'app'), ['0.9.0.post2', '1.0.0']);
    // {major} next to {version} must agree with it.
    const both = cfg(['{major}_{version}-{variant}']);
    assert.deepEqual(versionsInRegistry(['1_1.0.0-core', '2_1.0.0-core'], both, 'core'), ['1.0.0']);
  });
});

describe('moving tag decisions', () => {
  const registry = ['1.0.17-core', '1.0.18-core', '1.1.0rc1-core', '1.0.18-all', 'core-latest', '1.0-core', '1-core'];

  it('moves every family of a new newest stable release, with its reason', () => {
    assert.deepEqual(decisions([...registry, '1.0.19-core'], FAMILIES, '1.0.19'), {
      '1.0-core': 'moved: 1.0.19 is the newest stable 1.0.x',
      '1-core': 'moved: 1.0.19 is the newest stable 1.x',
      'core-latest': 'moved: 1.0.19 is the newest stable release',
    });
  });

  it('starts new families and leaves the ones a release is not newest in', () => {
    assert.deepEqual(decisions([...registry, '2.0.0-core'], FAMILIES, '2.0.0'), {
      '2.0-core': 'moved: first stable 2.0.x release of core',
      '2-core': 'moved: first stable 2.x release of core',
      'core-latest': 'moved: 2.0.0 is the newest stable release',
    });
    // A 1.0.x backport after 2.0.0: only 1.0-core and 1-core follow it.
    assert.deepEqual(decisions([...registry, '2.0.0-core', '1.0.19-core'], FAMILIES, '1.0.19'), {
      '1.0-core': 'moved: 1.0.19 is the newest stable 1.0.x',
      '1-core': 'moved: 1.0.19 is the newest stable 1.x',
      'core-latest': 'kept: 2.0.0 is newer; core-latest never moves backwards',
    });
  });

  it('never moves backwards', () => {
    assert.deepEqual(decisions([...registry, '1.0.19-core'], FAMILIES, '1.0.18'), {
      '1.0-core': 'kept: 1.0.19 is newer; 1.0-core never moves backwards',
      '1-core': 'kept: 1.0.19 is newer; 1-core never moves backwards',
      'core-latest': 'kept: 1.0.19 is newer; core-latest never moves backwards',
    });
  });

  it('ignores pre-releases and dev releases, both as candidates and as targets', () => {
    assert.deepEqual(decisions(registry, FAMILIES, '1.1.0rc1'), {
      '1.1-core': 'kept: 1.1.0rc1 is a pre-release; 1.1-core only follows stable releases',
      '1-core': 'kept: 1.1.0rc1 is a pre-release; 1-core only follows stable releases',
      'core-latest': 'kept: 1.1.0rc1 is a pre-release; core-latest only follows stable releases',
    });
    assert.match(decisions(registry, FAMILIES, '1.1.0.dev3')['1-core']!, /^kept: 1\.1\.0\.dev3 is a dev release/);
    // 1.1.0rc1 in the registry is no obstacle for 1.0.19 and no family member for 1.1.0.
    assert.equal(decisions([...registry, '1.1.0-core'], FAMILIES, '1.1.0')['1.1-core'], 'moved: first stable 1.1.x release of core');
    assert.equal(newestInFamily(['1.1.0rc1-core', '1.1.0rc2-core'], FAMILIES, 'core', '{major}.{minor}-{variant}', '1.1.0'), undefined);
  });

  it('counts a post release as newer than its release', () => {
    const exact = cfg(['{version}-{variant}', '{major}.{minor}.{patch}-exact-{variant}', '{major}.{minor}-{variant}']);
    assert.deepEqual(decisions(['1.0.18-core', '1.0.18.post1-core'], exact, '1.0.18.post1'), {
      '1.0.18-exact-core': 'moved: 1.0.18.post1 is the newest stable 1.0.18',
      '1.0-core': 'moved: 1.0.18.post1 is the newest stable 1.0.x',
    });
    assert.equal(
      decisions(['1.0.18-core', '1.0.18.post1-core'], exact, '1.0.18')['1.0.18-exact-core'],
      'kept: 1.0.18.post1 is newer; 1.0.18-exact-core never moves backwards',
    );
  });

  it('works for single-image templates without {variant}', () => {
    assert.deepEqual(decisions(['1.0.0', '1.0', '1', 'latest', '1.1.0', '0.9.0'], SINGLE, '1.1.0', 'app'), {
      '1.1': 'moved: first stable 1.1.x release of app',
      '1': 'moved: 1.1.0 is the newest stable 1.x',
      latest: 'moved: 1.1.0 is the newest stable release',
    });
    assert.deepEqual(decisions(['1.0.0', '1.1.0', '0.9.0', '0.9.1'], SINGLE, '0.9.1', 'app'), {
      '0.9': 'moved: 0.9.1 is the newest stable 0.9.x',
      '0': 'moved: 0.9.1 is the newest stable 0.x',
      latest: 'kept: 1.1.0 is newer; latest never moves backwards',
    });
  });

  it("never moves a tag that is also a release's own tag", () => {
    const clash = cfg(['{version}', '{major}.{minor}.{patch}']);
    assert.deepEqual(decisions(['1.0.18', '1.0.18.post1'], clash, '1.0.18.post1'), { '1.0.18': "kept: 1.0.18 is also a release's own tag; it is never moved" });
    assert.deepEqual(movingTagTargets(['1.0.18', '1.0.18.post1'], clash, 'app'), []);
  });

  it("keeps the seed's -latest behaviour with the default templates", () => {
    const seed = cfg(DEFAULT_IMAGE_TAGS);
    assert.deepEqual(decisions([], seed, '1.0.0'), { 'core-latest': 'moved: first stable release of core' });
    assert.deepEqual(decisions(registry, seed, '1.0.17'), { 'core-latest': 'kept: 1.0.18 is newer; core-latest never moves backwards' });
  });
});

describe('re-publish targets', () => {
  it('names every family in the registry with its newest stable version', () => {
    const tags = ['0.9.4-core', '1.0.17-core', '1.0.18-core', '1.1.0-core', '1.1.1rc1-core', '2.0.0b1-core', '1.2.0-all', '1.0-core', 'core-latest'];
    assert.deepEqual(
      movingTagTargets(tags, FAMILIES, 'core').map((t) => `${t.tag}=${t.version} (${t.why})`),
      [
        '0.9-core=0.9.4 (the newest stable 0.9.x)',
        '1.0-core=1.0.18 (the newest stable 1.0.x)',
        '1.1-core=1.1.0 (the newest stable 1.1.x)',
        '0-core=0.9.4 (the newest stable 0.x)',
        '1-core=1.1.0 (the newest stable 1.x)',
        'core-latest=1.1.0 (the newest stable release)',
      ],
    );
    assert.equal(newestInFamily(tags, FAMILIES, 'core', '{major}.{minor}-{variant}', '1.0.0'), '1.0.18');
    assert.deepEqual(movingTagTargets(tags, FAMILIES, 'hf_local'), []);
  });
});

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const parsed = new Map<string, NonNullable<ReturnType<typeof parseVersion>>>();
const parse = (v: string) => {
  let p = parsed.get(v);
  if (!p) parsed.set(v, (p = parseVersion(v)!));
  return p;
};
const cmp = (a: string, b: string) => compareVersions(parse(a), parse(b));

/** Brute force: every moving tag the published versions give, and the newest stable version it belongs on. */
function expectedTargets(published: readonly string[], config: ImageTagsConfig, variant: string): Map<string, string> {
  const expected = new Map<string, string>();
  for (const template of movingTemplates(config)) {
    for (const v of published) {
      if (!isStable(parse(v))) continue;
      // The tag v renders to belongs on the newest stable version that renders to the same tag.
      const tag = renderTag(template, v, variant);
      const newest = expected.get(tag);
      if (newest === undefined || cmp(v, newest) > 0) expected.set(tag, v);
    }
  }
  return expected;
}

describe('publishing in any order', () => {
  const VERSIONS = [
    '0.9.0',
    '0.9.1',
    '1.0.0rc1',
    '1.0.0',
    '1.0.1',
    '1.0.1.post1',
    '1.0.2.dev1',
    '1.1.0a1',
    '1.1.0',
    '1.1.1',
    '2.0.0b2',
    '2.0.0',
    '2.0.1rc1',
    '2.1.0.dev3',
    '10.0.0',
  ];
  const setups: [string, ImageTagsConfig, string][] = [
    [
      'variant families',
      cfg([
        '{version}-{variant}',
        'v{version}-{variant}',
        '{major}.{minor}.{patch}-final-{variant}',
        '{major}.{minor}-{variant}',
        '{major}-{variant}',
        '{variant}-latest',
      ]),
      'core',
    ],
    ['single image', SINGLE, 'app'],
  ];

  for (const [name, config, variant] of setups) {
    it(`${name}: 300 random orders end with every moving tag on its family's newest stable version`, (t) => {
      // Seeded (TAGSHIP_FUZZ_SEED, default 0x7a65): a failing order is replayed from the seed in the message.
      const random = fuzz(t, name.length);
      for (let round = 0; round < 300; round++) {
        const order = shuffle(VERSIONS, random.next);
        const where = `round ${round} ${random.replay}`;
        const registry = new Map<string, string>();
        const published: string[] = [];
        for (const version of order) {
          for (const tag of immutableTags(config, variant, version)) registry.set(tag, version);
          published.push(version);
          for (const d of decideMovingTags([...registry.keys()], config, variant, version)) {
            if (!d.moved) continue;
            const before = registry.get(d.tag);
            assert.ok(isStable(parse(version)), `${where}: ${d.tag} moved to ${version}`);
            assert.ok(before === undefined || cmp(version, before) >= 0, `${where}: ${d.tag} moved back from ${before} to ${version} (${order.join(' ')})`);
            registry.set(d.tag, version);
          }
          // Sequential releases leave every moving tag right after each one, not only at the end.
          const expected = expectedTargets(published, config, variant);
          for (const [tag, v] of expected) assert.equal(registry.get(tag), v, `${where} after ${version}: ${tag} (${order.join(' ')})`);
          for (const target of movingTagTargets([...registry.keys()], config, variant))
            assert.equal(expected.get(target.tag), target.version, `${where} after ${version}: re-publish target of ${target.tag}`);
        }
        const moving = [...registry.keys()].filter((t) => !published.some((v) => immutableTags(config, variant, v).includes(t)));
        assert.deepEqual(
          moving.sort(),
          [...expectedTargets(published, config, variant).keys()].sort(),
          `${where}: no tag for a family without a stable release`,
        );
      }
    });
  }
});

type Op = 'list' | 'get' | 'put';

/**
 * A registry in memory that several writers share, each through a client of its own. `when(who,
 * op, tag, run)` runs `run` once, just before `who`'s next `op` (of `tag`, for get and put) takes
 * effect: a PUT held back in the network, or another release finishing between a list and a write.
 * `pause`, when given, runs before and after every effect, so concurrent writers interleave.
 */
function fakeRegistry(pause?: () => Promise<void>) {
  const tags = new Map<string, Manifest>();
  const hooks: { who: string; op: Op; tag?: string; run: () => Promise<void> }[] = [];
  const manifest = (version: string): Manifest => ({
    digest: `sha256:${version}`,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    bytes: Buffer.from(version),
    json: {},
  });
  async function before(who: string, op: Op, tag?: string): Promise<void> {
    await pause?.();
    const i = hooks.findIndex((h) => h.who === who && h.op === op && (h.tag === undefined || h.tag === tag));
    if (i >= 0) await hooks.splice(i, 1)[0]!.run();
  }
  const clientOf = (who: string) =>
    ({
      async listTags() {
        await before(who, 'list');
        const snapshot = [...tags.keys()];
        await pause?.();
        return snapshot;
      },
      async getManifest(ref: string) {
        await before(who, 'get', ref);
        const m = tags.get(ref);
        await pause?.();
        return m;
      },
      async putManifest(tag: string, m: Manifest) {
        await before(who, 'put', tag);
        tags.set(tag, m);
        await pause?.();
        return m.digest;
      },
    }) as unknown as RegistryClient;
  const when = (who: string, op: Op, tag: string | undefined, run: () => Promise<void>) => void hooks.push({ who, op, ...(tag ? { tag } : {}), run });
  /** What a release does: push its immutable tag, then move its moving tags. */
  const release = async (version: string, who = version) => {
    const m = manifest(version);
    await pause?.();
    tags.set(`${version}-core`, m);
    return moveTags(clientOf(who), FAMILIES, 'core', version, m);
  };
  const on = (tag: string) => tags.get(tag)?.digest.replace('sha256:', '');
  return { tags, manifest, clientOf, when, release, on };
}

/** A promise the test opens when it chooses. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

const report = (decisions: readonly MovingTagDecision[]) => Object.fromEntries(decisions.map((d) => [d.tag, `${d.moved ? 'moved' : 'kept'}: ${d.reason}`]));

describe('moveTags against a registry', () => {
  it('an older release that listed the registry before a newer one finished follows the newer one', async () => {
    const reg = fakeRegistry();
    await reg.release('1.0.17');
    // 1.0.18 lists the registry, then 1.0.19 pushes and moves everything before 1.0.18 writes.
    let newer: MovingTagDecision[] = [];
    reg.when('1.0.18', 'put', '1.0-core', async () => {
      newer = await reg.release('1.0.19');
    });
    const older = await reg.release('1.0.18');
    assert.ok(newer.every((d) => d.moved));
    for (const tag of ['1.0-core', '1-core', 'core-latest']) assert.equal(reg.on(tag), '1.0.19', tag);
    assert.deepEqual(report(older), {
      '1.0-core': 'kept: 1.0.19 was released meanwhile; 1.0-core follows it',
      '1-core': 'kept: 1.0.19 was released meanwhile; 1-core follows it',
      'core-latest': 'kept: 1.0.19 was released meanwhile; core-latest follows it',
    });
  });

  it("an older release's PUT that lands after a newer release finished is repaired by its own re-check", async () => {
    const reg = fakeRegistry();
    await reg.release('3.0.0');
    let newer: MovingTagDecision[] = [];
    reg.when('3.1.0', 'put', 'core-latest', async () => {
      newer = await reg.release('3.1.1');
    });
    const older = await reg.release('3.1.0');
    assert.equal(reg.on('core-latest'), '3.1.1');
    assert.equal(report(newer)['core-latest'], 'moved: 3.1.1 is the newest stable release');
    assert.equal(report(older)['core-latest'], 'kept: 3.1.1 was released meanwhile; core-latest follows it');
  });

  it('a repair that itself lands late, after a third release, is repaired again', async () => {
    const reg = fakeRegistry();
    await reg.release('3.0.0');
    reg.when('3.1.0', 'put', 'core-latest', async () => {
      await reg.release('3.1.1');
      // 3.1.0's copy of 3.1.1 onto core-latest is held until 3.1.2 finished too.
      reg.when('3.1.0', 'put', 'core-latest', async () => {
        assert.equal(report(await reg.release('3.1.2'))['core-latest'], 'moved: 3.1.2 is the newest stable release');
      });
    });
    const older = await reg.release('3.1.0');
    assert.equal(reg.on('core-latest'), '3.1.2');
    assert.equal(report(older)['core-latest'], 'kept: 3.1.2 was released meanwhile; core-latest follows it');
  });

  it('a newer release whose re-check sees an older PUT land puts its own back and reports moved', async () => {
    const reg = fakeRegistry();
    await reg.release('3.0.0');
    // 3.1.0 listed before 3.1.1 existed; its PUT of core-latest lands after 3.1.1's and before
    // 3.1.1 reads the tag again, and 3.1.0's own re-check waits until 3.1.1 has finished.
    const heldPut = gate();
    const olderHeld = gate();
    const olderLanded = gate();
    const newerDone = gate();
    reg.when('3.1.0', 'put', 'core-latest', async () => {
      olderHeld.open();
      await heldPut.opened;
      reg.when('3.1.0', 'list', undefined, async () => {
        olderLanded.open();
        await newerDone.opened;
      });
    });
    const older = reg.release('3.1.0');
    await olderHeld.opened;
    reg.when('3.1.1', 'put', 'core-latest', async () => {
      reg.when('3.1.1', 'get', 'core-latest', async () => {
        heldPut.open();
        await olderLanded.opened;
      });
    });
    const newer = await reg.release('3.1.1');
    newerDone.open();
    assert.equal(report(newer)['core-latest'], 'moved: 3.1.1 is the newest stable release');
    assert.equal(reg.on('core-latest'), '3.1.1');
    assert.equal(report(await older)['core-latest'], 'kept: 3.1.1 was released meanwhile; core-latest follows it');
    assert.equal(reg.on('core-latest'), '3.1.1');
  });

  it('releases run side by side in any interleaving end with every moving tag on its newest stable version, each reporting what it saw', async (t) => {
    const VERSIONS = ['1.0.0', '1.0.1', '1.0.2', '1.1.0', '1.1.1', '1.2.0rc1', '2.0.0', '2.0.1'];
    const random = fuzz(t, 17);
    for (let round = 0; round < 200; round++) {
      const where = `round ${round} ${random.replay}`;
      // Each effect waits 0-3 turns of the event loop: writers overtake each other at random points.
      const reg = fakeRegistry(async () => {
        for (let n = random.int(4); n > 0; n--) await new Promise((r) => setImmediate(r));
      });
      const versions = shuffle(VERSIONS, random.next).slice(0, 2 + random.int(VERSIONS.length - 1));
      const reports = await Promise.all(versions.map(async (v) => [v, report(await reg.release(v))] as const));
      for (const [tag, v] of expectedTargets(versions, FAMILIES, 'core')) assert.equal(reg.on(tag), v, `${where}: ${tag} (${versions.join(' ')})`);
      for (const [v, r] of reports) {
        for (const [tag, text] of Object.entries(r)) {
          const superseded = /^kept: (\S+) was released meanwhile/.exec(text)?.[1];
          if (superseded) assert.ok(cmp(superseded, v) > 0, `${where}: ${v} names ${superseded} as newer on ${tag}`);
          // The newest of a family can only ever see itself on its tag.
          if (expectedTargets(versions, FAMILIES, 'core').get(tag) === v) assert.match(text, /^moved: /, `${where}: ${v} on ${tag}`);
        }
      }
    }
  });

  it('fails retryably when a moved tag never reads back as written', async () => {
    const reg = fakeRegistry();
    const m = reg.manifest('1.0.0');
    reg.tags.set('1.0.0-core', m);
    let puts = 0;
    const client = reg.clientOf('1.0.0');
    client.putManifest = async (tag: string) => {
      if (tag === 'core-latest') puts++;
      reg.tags.set(tag, reg.manifest('0.0.1'));
      return 'sha256:0.0.1';
    };
    await assert.rejects(
      moveTags(client, FAMILIES, 'core', '1.0.0', m),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'LatestMismatch' && !err.nonRetryable,
    );
    assert.equal(puts, SETTLE_ROUNDS, 'core-latest re-pointed once per round, then given up');
  });

  it('writes nothing for a pre-release', async () => {
    const reg = fakeRegistry();
    const result = await reg.release('1.0.0rc1');
    assert.ok(result.every((d) => !d.moved));
    assert.deepEqual([...reg.tags.keys()], ['1.0.0rc1-core']);
  });
});
