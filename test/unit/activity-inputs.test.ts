// Each step's input carries only the slice of the config snapshot it reads, and slices recorded by
// an older tagship (or whole snapshots, as releases before slices scheduled) are brought up to
// today's shape before an activity sees them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSlice, imageSlice, publishSlice, retagSlice, validateSlice, visibleSlice } from '../../src/config/plan';
import { parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/config/schema';
import { upgradeSlice } from '../../src/config/upgrade';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'release-v1.0.18.history.json');

const config = parseConfig(
  `[index]\nsimple_url = "http://127.0.0.1:1/simple/"\n[images]\nrepository = "127.0.0.1:5000/acme/app"\n[schedule]\nrepublish_latest = "5 4 * * *"\n`,
  'tagship.toml',
);

interface HistoryEvent {
  workflowExecutionStartedEventAttributes?: { input: { payloads: { data: string }[] } };
  activityTaskScheduledEventAttributes?: { activityId: string; input?: { payloads: { data: string }[] } };
}

const decode = (data: string): unknown => JSON.parse(Buffer.from(data, 'base64').toString('utf8'));

describe('activity inputs planned from the config snapshot', () => {
  it('gives a build only its own package and the Simple API it checks earlier uploads against', () => {
    const slice = buildSlice(config, 'otai-hf-local');
    assert.deepEqual(slice.packages, [{ name: 'otai-hf-local', path: 'packages/otai_hf_local' }]);
    assert.deepEqual(slice.index, { simple_url: 'http://127.0.0.1:1/simple/' });
    assert.deepEqual(Object.keys(slice).sort(), ['index', 'packages', 'repository']);
  });

  it('gives an image step only its variant and the packages that variant installs', () => {
    const slice = imageSlice(config, 'hf_local');
    assert.deepEqual(
      slice.variants.map((v) => v.name),
      ['hf_local'],
    );
    assert.deepEqual(
      slice.packages.map((p) => p.name),
      ['open-ticket-ai', 'otai-hf-local'],
    );
    assert.equal(slice.images.repository, '127.0.0.1:5000/acme/app');
    assert.deepEqual(Object.keys(slice).sort(), ['images', 'index', 'packages', 'repository', 'variants']);
  });

  it('keeps schedules, retries, timeouts and CI settings out of every step input', () => {
    const slices = [
      validateSlice(config),
      buildSlice(config, 'open-ticket-ai'),
      publishSlice(config),
      visibleSlice(config),
      imageSlice(config, 'core'),
      retagSlice(config, 'core'),
    ];
    for (const s of slices)
      for (const key of ['schedule', 'retries', 'timeouts', 'ci']) assert.equal(key in s, false, `${key} in ${JSON.stringify(Object.keys(s))}`);
  });

  it('shrinks the recorded v1.0.18 release: its activity inputs were mostly config copies', async () => {
    const events = (JSON.parse(await readFile(FIXTURE, 'utf8')) as { events: HistoryEvent[] }).events;
    const recorded = events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : []));
    const snapshot = (decode(events[0]!.workflowExecutionStartedEventAttributes!.input.payloads[0]!.data) as { config: typeof config }).config;
    let before = 0;
    let after = 0;
    for (const a of recorded) {
      const input = decode(a.input!.payloads[0]!.data) as Record<string, unknown>;
      const [kind, subject = ''] = a.activityId.split(':');
      const slice =
        kind === 'validate'
          ? validateSlice(snapshot)
          : kind === 'build'
            ? buildSlice(snapshot, subject)
            : kind === 'publish'
              ? publishSlice(snapshot)
              : kind === 'visible'
                ? visibleSlice(snapshot)
                : imageSlice(snapshot, subject);
      before += JSON.stringify(input).length;
      after += JSON.stringify({ ...input, config: slice }).length;
    }
    assert.ok(recorded.length >= 12, `expected the seed's steps, got ${recorded.length}`);
    assert.ok(after < before / 2, `planned inputs are ${after} bytes against ${before} recorded`);
  });
});

describe('upgrading recorded slices', () => {
  it('fills in keys added since a slice was recorded, and adds no section it did not hold', () => {
    const old = {
      images: { repository: '127.0.0.1:5000/acme/app', dockerfile: 'Dockerfile', context: '.', platforms: ['linux/amd64'], builder: 'buildah' },
      variants: [{ name: 'core', packages: ['open-ticket-ai'] }],
    };
    const upgraded = upgradeSlice(old) as unknown as ReturnType<typeof retagSlice>;
    assert.deepEqual(upgraded.images.tags, ['{version}-{variant}', '{variant}-latest']);
    assert.deepEqual(upgraded.images.build_args, {});
    assert.deepEqual(Object.keys(upgraded).sort(), ['images', 'variants']);
  });

  it('takes a whole snapshot, as releases recorded before slices scheduled their steps', () => {
    const upgraded = upgradeSlice(config);
    assert.deepEqual(upgraded.packages, config.packages);
    assert.equal(upgraded.index.simple_url, config.index.simple_url);
  });

  it('keeps a release recorded before [index] auth on the token upload it started with', () => {
    const recorded = { index: { upload_url: 'http://127.0.0.1:1/', simple_url: 'http://127.0.0.1:1/simple/' } };
    const upgraded = upgradeSlice(recorded) as unknown as ReturnType<typeof publishSlice>;
    assert.equal(upgraded.index.auth, 'token');
    assert.equal(upgradeSlice({ index: { ...recorded.index, auth: 'trusted-publishing' } }).index.auth, 'trusted-publishing');
  });

  it('refuses a slice that no longer parses, naming the key', () => {
    assert.throws(
      () => upgradeSlice({ index: { simple_url: 'ftp://nope' } }),
      (err: unknown) => err instanceof ConfigError && /index\.simple_url: must be an http\(s\) URL/.test(err.message),
    );
  });
});
