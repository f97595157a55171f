// The image step's pure parts: the plan (build arguments, labels, tags, smoke command), both
// builders' command lines, how builder output is classified, and the per-worker build slots.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildFailure, classifyBuildOutput, normalizeOutput } from '../../activities/lib/build-failure';
import { BuildSlots } from '../../activities/lib/build-slots';
import { buildahBuildArgs, buildahGlobal, buildahPushArgs, registriesConf } from '../../activities/lib/buildah-builder';
import { dockerBuildxArgs, dockerSmokeBuildArgs, dockerSmokeRunArgs } from '../../activities/lib/buildx-builder';
import { planImage } from '../../activities/lib/image-plan';
import { builderEnv } from '../../activities/lib/builder-process';
import { parseConfig } from '../../src/config/load';
import { formatStatusTable } from '../../src/client/status';
import { formatStep } from '../../src/client/summary-format';
import { settingsFromEnv } from '../../worker/settings';

const COMMIT = 'a'.repeat(40);

function plan(extra = '', variant = 'all') {
  const config = parseConfig(`[images]\nsmoke = ["python", "-c", "import open_ticket_ai"]\n${extra}`, 'test.toml');
  return planImage({
    sourceDir: '/src',
    config,
    version: '1.0.18',
    commit: COMMIT,
    variant: config.variants.find((v) => v.name === variant)!,
    created: 1_700_000_000,
    metadata: { description: 'Open Ticket AI core', licenses: 'LGPL-2.1-only' },
  });
}

describe('image plan', () => {
  it('passes the seed Dockerfile its build arguments: PACKAGES names only, REQUIREMENTS pinned, plus [images.build_args]', () => {
    const p = plan('build_args = { BASE_IMAGE = "127.0.0.1:5000/tagship/python:3.11-bookworm" }');
    assert.deepEqual(p.buildArgs, {
      BASE_IMAGE: '127.0.0.1:5000/tagship/python:3.11-bookworm',
      VERSION: '1.0.18',
      VARIANT: 'all',
      PACKAGES: 'open-ticket-ai otai-hf-local otai-otobo-znuny',
      REQUIREMENTS: 'open-ticket-ai==1.0.18 otai-hf-local==1.0.18 otai-otobo-znuny==1.0.18',
      INDEX_URL: 'https://pypi.org/simple/',
    });
  });

  it("refuses build_args that would override tagship's own, naming the key", () => {
    assert.throws(() => parseConfig('[images.build_args]\nPACKAGES = "x"\n', 'tagship.toml'), /images\.build_args\.PACKAGES: is set by tagship/);
  });

  it('labels the image as docker/metadata-action does, from the package metadata', () => {
    const { labels } = plan();
    assert.equal(labels['org.opencontainers.image.title'], 'open-ticket-ai');
    assert.equal(labels['org.opencontainers.image.description'], 'Open Ticket AI core');
    assert.equal(labels['org.opencontainers.image.url'], 'https://github.com/Softoft-Orga/open-ticket-ai');
    assert.equal(labels['org.opencontainers.image.source'], 'https://github.com/Softoft-Orga/open-ticket-ai');
    assert.equal(labels['org.opencontainers.image.version'], '1.0.18');
    assert.equal(labels['org.opencontainers.image.created'], '2023-11-14T22:13:20.000Z');
    assert.equal(labels['org.opencontainers.image.revision'], COMMIT);
    assert.equal(labels['org.opencontainers.image.licenses'], 'LGPL-2.1-only');
  });

  it('takes the smoke command of the variant over the [images] one; [] turns it off', () => {
    assert.deepEqual(plan().smoke, ['python', '-c', 'import open_ticket_ai']);
    const config = parseConfig('[images]\nsmoke = ["true"]\n[[variants]]\nname = "core"\npackages = ["open-ticket-ai"]\nsmoke = []\n', 't.toml');
    assert.deepEqual(planImage({ sourceDir: '/s', config, version: '1.0.0', commit: COMMIT, variant: config.variants[0]! }).smoke, []);
  });

  it('pushes to the first {version} tag', () => {
    assert.equal(plan().ref, 'ghcr.io/softoft-orga/open-ticket-ai:1.0.18-all');
  });
});

describe('buildah command lines', () => {
  const p = plan();
  const global = buildahGlobal('/var/tagship', 'overlay');

  it('builds one platform at a time with chroot isolation, docker format (SHELL, HEALTHCHECK), --pull and reproducible timestamps', () => {
    const args = buildahBuildArgs(p, global, 'tagship-x', 'linux/arm64', '/tmp/iid');
    assert.deepEqual(args.slice(0, 6), ['--root', '/var/tagship/overlay/storage', '--runroot', '/var/tagship/overlay/run', '--storage-driver', 'overlay']);
    const at = (flag: string) => args[args.indexOf(flag) + 1];
    assert.equal(at('--isolation'), 'chroot');
    assert.equal(at('--format'), 'docker');
    assert.ok(args.includes('--pull'));
    assert.equal(at('--platform'), 'linux/arm64');
    assert.ok(!args.includes('linux/amd64'), 'one platform per build keeps the index order stable');
    assert.equal(at('--timestamp'), '1700000000');
    assert.ok(!args.includes('--quiet'), 'the build output is kept for failures');
    assert.ok(args.includes('PACKAGES=open-ticket-ai otai-hf-local otai-otobo-znuny'));
    assert.deepEqual(args.slice(-2), ['--', '/src']);
  });

  it('pushes every platform in docker format, plain HTTP only when asked', () => {
    const args = buildahPushArgs(p, global, 'tagship-x', { insecure: true, authFile: '/run/auth.json' });
    assert.deepEqual(args.slice(6, 9), ['manifest', 'push', '--all']);
    assert.equal(args[args.indexOf('--format') + 1], 'v2s2');
    assert.ok(args.includes('--tls-verify=false'));
    assert.equal(args[args.indexOf('--authfile') + 1], '/run/auth.json');
    assert.equal(args.at(-1), 'docker://ghcr.io/softoft-orga/open-ticket-ai:1.0.18-all');
    assert.ok(!buildahPushArgs(p, global, 'x', { insecure: false }).includes('--tls-verify=false'));
  });

  it('marks plain-HTTP registries for FROM pulls and pushes alike in a registries.conf', () => {
    const conf = registriesConf(['127.0.0.1:5000', 'mirror.internal:8080', '127.0.0.1:5000']);
    assert.equal(conf.match(/\[\[registry\]\]/g)?.length, 2);
    assert.match(conf, /location = "127\.0\.0\.1:5000"\ninsecure = true/);
    assert.match(conf, /unqualified-search-registries = \["docker\.io"\]/);
  });

  it("gives the builder none of the worker's secrets", () => {
    process.env.TAGSHIP_REGISTRY_PASSWORD = 'hunter2';
    try {
      const env = builderEnv({ CONTAINERS_REGISTRIES_CONF: '/x' });
      assert.ok(!Object.values(env).includes('hunter2'));
      assert.equal(env.CONTAINERS_REGISTRIES_CONF, '/x');
      assert.ok(env.PATH);
    } finally {
      delete process.env.TAGSHIP_REGISTRY_PASSWORD;
    }
  });
});

describe('docker buildx command lines', () => {
  const p = plan();

  it('builds and pushes every platform at once with --pull, labels, build args and SOURCE_DATE_EPOCH', () => {
    const args = dockerBuildxArgs(p, '/tmp/meta.json', true);
    assert.deepEqual(args.slice(0, 4), ['buildx', 'build', '--platform', 'linux/amd64,linux/arm64']);
    assert.ok(args.includes('--pull'));
    assert.equal(args[args.indexOf('--output') + 1], 'type=image,name=ghcr.io/softoft-orga/open-ticket-ai:1.0.18-all,push=true,registry.insecure=true');
    assert.ok(args.includes('REQUIREMENTS=open-ticket-ai==1.0.18 otai-hf-local==1.0.18 otai-otobo-znuny==1.0.18'));
    assert.ok(args.includes('org.opencontainers.image.licenses=LGPL-2.1-only'));
    assert.ok(args.includes('SOURCE_DATE_EPOCH=1700000000'));
    assert.deepEqual(args.slice(-2), ['--', '/src']);
  });

  it('smoke-tests each platform from a loaded build before the push, with the smoke command as argv', () => {
    assert.deepEqual(dockerSmokeBuildArgs(p, 'linux/arm64', 'tagship-smoke-1:linux-arm64').slice(0, 4), ['buildx', 'build', '--platform', 'linux/arm64']);
    assert.ok(dockerSmokeBuildArgs(p, 'linux/arm64', 't').includes('--load'));
    assert.deepEqual(dockerSmokeRunArgs(p, 'linux/arm64', 'tagship-smoke-1:linux-arm64'), [
      'run',
      '--rm',
      '--platform',
      'linux/arm64',
      '--entrypoint',
      'python',
      '--',
      'tagship-smoke-1:linux-arm64',
      '-c',
      'import open_ticket_ai',
    ]);
  });
});

describe('build failure classes', () => {
  it('sends Dockerfile errors, missing files and failed RUN steps to the operator, and retries network trouble', () => {
    assert.equal(classifyBuildOutput('STEP 2/2: RUNN echo\nError: building at STEP "RUNN ": Build error: Unknown instruction: "RUNN"'), 'dockerfile-invalid');
    assert.equal(
      classifyBuildOutput(
        'Error: building at STEP "COPY missing.txt /x": checking on sources under "/ctx": copier: stat: "/missing.txt": no such file or directory',
      ),
      'missing-file',
    );
    assert.equal(
      classifyBuildOutput('subprocess exited with status 1\nError: building at STEP "RUN for p in a b; do false; done": exit status 1'),
      'run-failed',
    );
    assert.equal(
      classifyBuildOutput(
        'error: Failed to fetch: `http://127.0.0.1:1/simple/x/`\n  Caused by: Connection refused (os error 111)\nError: building at STEP "RUN uv add x": exit status 1',
      ),
      'network',
    );
    assert.equal(
      classifyBuildOutput(
        'Error: initializing source docker://127.0.0.1:5/base:1: pinging container registry 127.0.0.1:5: dial tcp: connect: connection refused',
      ),
      'network',
    );
    assert.equal(classifyBuildOutput('Error: writing blob: 403 Forbidden: denied', true), 'refused');
    const failure = buildFailure(
      'run-failed',
      'build of r:1-core for linux/arm64',
      1,
      'line 1\nERROR: no matching distribution\nError: building at STEP "RUN x": exit status 1',
    );
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, 'ImageRunFailed');
    assert.match(failure.message, /^build of r:1-core for linux\/arm64 failed \(exit 1\): a RUN step failed twice with the same output; not retried\n/);
    assert.match(failure.message, /no matching distribution/);
    assert.equal(buildFailure('network', 'x', 1, 'y').nonRetryable, false);
  });

  it('compares failing runs without their timings and ids', () => {
    assert.equal(normalizeOutput('took 1.2s\nlayer 0123456789abcdef0123'), normalizeOutput('took 3.4s\nlayer fedcba9876543210fedc'));
    assert.notEqual(normalizeOutput('ERROR: a'), normalizeOutput('ERROR: b'));
  });
});

describe('image build slots', () => {
  it('runs at most `size` builds at once, in order of arrival, and frees a slot on failure', async () => {
    const slots = new BuildSlots(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const waits: number[] = [];
    const job = (n: number, fail = false) =>
      slots.run(
        async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(n);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          if (fail) throw new Error(`job ${n} failed`);
          return n;
        },
        undefined,
        (pos) => waits.push(pos),
      );
    const results = await Promise.allSettled([job(1), job(2, true), job(3), job(4), job(5)]);
    assert.equal(peak, 2);
    assert.deepEqual(order, [1, 2, 3, 4, 5]);
    assert.deepEqual(waits, [1, 2, 3]);
    assert.equal(results[1].status, 'rejected');
    assert.equal(slots.busy, 0);
  });

  it('stops waiting when the step is cancelled', async () => {
    const slots = new BuildSlots(1);
    const release = await slots.acquire();
    const ac = new AbortController();
    const waiting = slots.acquire(ac.signal);
    ac.abort(new Error('cancelled by an operator'));
    await assert.rejects(waiting, /cancelled by an operator/);
    release();
    assert.equal(slots.busy, 0);
  });
});

describe('what operators see of a failed image step', () => {
  const message = [
    'build of r:1.0.18-core for linux/arm64 failed (exit 1): a RUN step failed twice with the same output; not retried',
    'STEP 7/9: RUN for p in $PACKAGES; do uv add "$p==$VERSION"; done',
    '  × No solution found when resolving dependencies:',
    '  ╰─▶ Because open-ticket-ai==1.0.18 was not found in the package registry',
    'Error: building at STEP "RUN ...": exit status 1',
  ].join('\n');

  it("release status prints the failing step's last lines under it, not only the first", () => {
    const table = formatStatusTable('release/o/r/v1.0.18', {
      tag: 'v1.0.18',
      state: 'waiting-for-operator',
      workflowStatus: 'RUNNING',
      steps: [
        { step: 'image:core', state: 'waiting-for-operator', note: message },
        { step: 'image:all', state: 'succeeded', note: 'linux/amd64: open-ticket-ai 1.0.18\nnot a failure' },
      ],
    });
    assert.match(table, /image:core {2}waiting-for-operator {2}build of r:1\.0\.18-core for linux\/arm64 failed/);
    assert.match(table, /│ {3}╰─▶ Because open-ticket-ai==1\.0\.18 was not found in the package registry/);
    assert.match(table, /│ Error: building at STEP/);
    assert.doesNotMatch(table, /not a failure/, 'only failures get their tail printed');
  });

  it('release start --wait prints them too', () => {
    const line = formatStep({ kind: 'failed', step: 'image:core', message })!;
    assert.match(line, /^ {2}✗ image:core: build of r:1\.0\.18-core/);
    assert.match(line, /│ Error: building at STEP/);
  });

  it("TAGSHIP_IMAGE_BUILDS sets the worker's build slots and refuses nonsense", () => {
    assert.equal(settingsFromEnv({ TAGSHIP_IMAGE_BUILDS: '3' }).limits?.imageBuilds, 3);
    assert.equal(settingsFromEnv({}).limits?.imageBuilds, 2, 'two at a time unless told otherwise');
    assert.throws(() => settingsFromEnv({ TAGSHIP_IMAGE_BUILDS: '0' }), /TAGSHIP_IMAGE_BUILDS=0 must be a whole number from 1 to 9999/);
  });
});
