// One release of one tag: validate → build every package → publish and wait until visible per
// package → build and push each image variant as soon as the packages it installs are visible.
// A step that exhausts its retries waits for an operator (retry, skip or abort) while independent
// steps go on. Deterministic orchestration only; every side effect is an activity in ../activities.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  type ActivityOptions,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import type { TagshipConfig } from '../src/config/schema';
import type { BuiltPackage, PublishedImage, PublishedPackage, ReleaseInput, ReleaseSummary } from '../src/contract/release';
import { abortSignal, abortUpdate, retrySignal, retryUpdate, skipSignal, skipUpdate, statusQuery } from '../src/contract/messages';
import { oidcTokenSignal, startReleaseSignal } from '../src/contract/messages';
import { GITHUB_RELEASE_STEP, StepBoard, stepNames } from './step-board';

type Activities = ReturnType<typeof activities.createActivities>;
type StepKind = 'validate' | 'build' | 'publish' | 'visible' | 'image' | 'github';

const retry = (maximumAttempts: number): ActivityOptions['retry'] => ({
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts,
});

// Releases started before a setting existed carry configs without it; they keep today's defaults.
const DEFAULT_RETRIES: TagshipConfig['retries'] = { validate: 5, build: 3, publish: 8, visible: 5, image: 5 };
const GITHUB_RELEASE_OPTIONS: ActivityOptions = { startToCloseTimeout: '5m', retry: retry(5) };
const DEFAULT_TOKEN_WAIT = '30m';

function stepOptions(config: TagshipConfig): Record<StepKind, ActivityOptions> {
  const t = config.timeouts;
  const r = { ...DEFAULT_RETRIES, ...config.retries };
  return {
    validate: { startToCloseTimeout: t.validate, retry: retry(r.validate) },
    build: { startToCloseTimeout: t.build, heartbeatTimeout: '1m', retry: retry(r.build) },
    publish: { startToCloseTimeout: t.publish, heartbeatTimeout: '1m', retry: retry(r.publish) },
    visible: { startToCloseTimeout: t.visible, heartbeatTimeout: '1m', retry: retry(r.visible) },
    image: { startToCloseTimeout: t.image, heartbeatTimeout: '2m', retry: retry(r.image) },
    github: GITHUB_RELEASE_OPTIONS,
  };
}

/** Activities whose id names the step ("build:open-ticket-ai"), so history and UI read as the release's steps. */
function steps(config: TagshipConfig) {
  const options = stepOptions(config);
  const named = (kind: StepKind, subject: string | undefined, summary: string) =>
    proxyActivities<Activities>({ ...options[kind], activityId: subject === undefined ? kind : `${kind}:${subject}`, summary });
  const v = (a: { version: string }) => a.version;
  return {
    validate: (a: Parameters<Activities['validateRelease']>[0]) => named('validate', undefined, `validate ${a.tag}`).validateRelease(a),
    build: (a: Parameters<Activities['buildPackage']>[0]) => named('build', a.package, `uv build ${a.package} ${v(a)}`).buildPackage(a),
    publish: (a: Parameters<Activities['publishPackage']>[0]) => named('publish', a.package, `upload ${a.package} ${v(a)}`).publishPackage(a),
    visible: (a: Parameters<Activities['waitUntilVisible']>[0]) => named('visible', a.package, `wait for ${a.package} on the Simple API`).waitUntilVisible(a),
    image: (a: Parameters<Activities['publishImage']>[0]) => named('image', a.variant, `image ${a.version}-${a.variant}`).publishImage(a),
    githubRelease: (a: Parameters<Activities['publishGitHubRelease']>[0]) =>
      proxyActivities<Activities>({ ...options.github, activityId: GITHUB_RELEASE_STEP, summary: `GitHub Release ${a.tag}` }).publishGitHubRelease(a),
  };
}

const TOKEN_FAILURES = new Set(['OidcTokenUnavailable', 'OidcTokenExpired']);
// Failures no operator decision can fix: built metadata that contradicts the tag stops the release,
// as validate's version check does.
const RELEASE_STOPPERS = new Set(['VersionMismatch']);

function failureType(err: unknown): string | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.type ?? undefined : undefined;
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

const SKIPPED = Symbol('skipped');
type Skipped = typeof SKIPPED;

export async function release(input: ReleaseInput): Promise<ReleaseSummary> {
  const { config, tag } = input;
  const dryRun = input.dryRun ?? false;
  const step = steps(config);
  const board = new StepBoard(tag, stepNames(config, dryRun));
  let abortReason: string | undefined;
  const aborted = () => abortReason !== undefined;

  // The OIDC token CI forwards (startRelease) or sends later (oidcToken).
  let token: string | undefined;
  let tokenGeneration = 0;
  const acceptToken = (t: string | undefined) => {
    if (!t) return;
    token = t;
    tokenGeneration++;
  };
  setHandler(startReleaseSignal, (s) => {
    if (s.tag === tag) acceptToken(s.pypiOidcToken);
  });
  setHandler(oidcTokenSignal, (s) => acceptToken(s.token));

  const scope = new CancellationScope();
  const abort = (reason: string) => {
    abortReason = reason.trim() || 'no reason given';
    scope.cancel();
    return `release ${tag} aborting: ${abortReason}`;
  };
  setHandler(statusQuery, () => board.status());
  setHandler(retryUpdate, (s) => board.decide(s, 'retry'), { validator: (s) => board.validateDecision(s, 'retry') });
  setHandler(skipUpdate, (s) => board.decide(s, 'skip'), { validator: (s) => board.validateDecision(s, 'skip') });
  setHandler(abortUpdate, abort, {
    validator: (reason) => {
      if (!reason.trim()) throw new Error('abort needs a reason');
      if (aborted()) throw new Error('the release is already aborting');
    },
  });
  // Signals cannot be refused, so invalid ones are ignored; the UI shows the step state either way.
  setHandler(retrySignal, (s) => {
    try {
      board.decide(s, 'retry');
    } catch {
      /* not waiting: nothing to retry */
    }
  });
  setHandler(skipSignal, (s) => {
    try {
      board.decide(s, 'skip');
    } catch {
      /* not waiting, or not skippable */
    }
  });
  setHandler(abortSignal, (reason) => {
    if (!aborted()) abort(reason);
  });

  /**
   * Runs one step; when it fails after its retries, waits for an operator. Validate never waits:
   * a bad tag or mismatched versions fail the release at once, as in the seed.
   */
  async function run<T>(name: string, call: () => Promise<T>): Promise<T | Skipped> {
    for (;;) {
      board.set(name, 'running');
      try {
        const result = await call();
        board.set(name, 'succeeded');
        return result;
      } catch (err) {
        if (isCancellation(err) || aborted()) throw err;
        const message = failureMessage(err);
        if (name === 'validate' || RELEASE_STOPPERS.has(failureType(err) ?? '')) {
          board.set(name, 'failed', message);
          throw err;
        }
        const decision = await board.waitForDecision(name, message, aborted);
        if (decision === 'skip') {
          board.set(name, 'skipped', 'skipped by an operator');
          return SKIPPED;
        }
        if (decision === undefined) throw err;
      }
    }
  }

  /** A publish attempt whose token is missing or expired waits for a fresh one (up to token_wait). */
  async function publishWithToken(pkg: BuiltPackage, version: string): Promise<PublishedPackage> {
    for (;;) {
      const seen = tokenGeneration;
      try {
        return await step.publish({ config, package: pkg.package, version, files: pkg.files, ...(token ? { oidcToken: token } : {}) });
      } catch (err) {
        if (!TOKEN_FAILURES.has(failureType(err) ?? '')) throw err;
        if (tokenGeneration > seen) continue;
        board.set(`publish:${pkg.package}`, 'waiting-for-operator', 'waiting for a fresh OIDC token (re-run the CI job, or signal oidcToken)');
        const arrived = await condition(() => tokenGeneration > seen || aborted(), config.timeouts.token_wait ?? DEFAULT_TOKEN_WAIT);
        if (aborted()) throw err;
        board.set(`publish:${pkg.package}`, 'running');
        if (!arrived) {
          throw ApplicationFailure.nonRetryable(`waited ${config.timeouts.token_wait ?? DEFAULT_TOKEN_WAIT} for a fresh OIDC token and got none: ${failureMessage(err)}`, 'OidcTokenTimeout');
        }
      }
    }
  }

  async function dag(): Promise<ReleaseSummary> {
    const validated = await run('validate', () => step.validate({ config, tag, ...(dryRun ? { dryRun } : {}) }));
    if (validated === SKIPPED) throw ApplicationFailure.nonRetryable('validate cannot be skipped');
    const { version, commit } = validated;
    board.setVersion(version);

    // Publish starts only when every package built (or was skipped): a broken build must not
    // leave half a release on an index where files can never be replaced.
    const built = await Promise.all(
      config.packages.map(async (p) => {
        const b = await run(`build:${p.name}`, () => step.build({ config, tag, commit, version, package: p.name, ...(dryRun ? { dryRun } : {}) }));
        if (b === SKIPPED) return { package: p.name, version, files: [] };
        const note = builtNote(b);
        if (note) board.set(`build:${p.name}`, 'succeeded', note);
        return b;
      }),
    );
    if (dryRun) {
      board.set('finish', 'succeeded');
      return summary(input, version, commit, built, [], []);
    }

    const visible = new Map<string, Promise<PublishedPackage | undefined>>();
    for (const pkg of built) {
      visible.set(
        pkg.package,
        (async () => {
          if (pkg.files.length === 0) {
            for (const s of ['publish', 'visible']) board.set(`${s}:${pkg.package}`, 'skipped', 'its build was skipped');
            return undefined;
          }
          const published = await run(`publish:${pkg.package}`, () => publishWithToken(pkg, version));
          await run(`visible:${pkg.package}`, () => step.visible({ config, package: pkg.package, files: pkg.files }));
          return published === SKIPPED ? undefined : published;
        })(),
      );
    }
    const images = config.variants.map(async (variant) => {
      await Promise.all(variant.packages.map((p) => visible.get(p)));
      const image = await run(`image:${variant.name}`, () => step.image({ config, tag, commit, version, variant: variant.name }));
      if (image === SKIPPED) return undefined;
      // What the operator wants to see of a pushed image: which packages are proven on which platform.
      if (image.verified) board.set(`image:${variant.name}`, 'succeeded', verifiedNote(image));
      return image;
    });
    // Awaited together so a failure in either is reported, never left as an unhandled rejection.
    const [published, pushed] = await Promise.all([Promise.all(visible.values()), Promise.all(images)]);
    const result = summary(
      input,
      version,
      commit,
      built,
      published.filter((p): p is PublishedPackage => p !== undefined),
      pushed.filter((i): i is PublishedImage => i !== undefined),
    );
    // Only configs recorded with the key get the step, so releases started before it replay unchanged.
    if (config.github_release?.enabled === true) {
      const gh = await run(GITHUB_RELEASE_STEP, () =>
        step.githubRelease({
          config,
          tag,
          version,
          commit,
          // What the index serves: a skipped publish leaves its built files out of SHA256SUMS.
          files: result.packages.flatMap((p) =>
            p.files.filter((f) => p.uploaded.includes(f.filename) || p.alreadyPresent.includes(f.filename)).map((f) => ({ filename: f.filename, sha256: f.sha256 })),
          ),
          images: result.images.map((i) => ({ variant: i.variant, tags: i.tags, digest: i.digest, platforms: (i.verified ?? []).map((v) => ({ platform: v.platform, digest: v.digest })) })),
        }),
      );
      if (gh !== SKIPPED) {
        board.set(GITHUB_RELEASE_STEP, 'succeeded', gh.url);
        board.set('finish', 'succeeded');
        return { ...result, githubRelease: { id: gh.id, url: gh.url } };
      }
    }
    board.set('finish', 'succeeded');
    return result;
  }

  try {
    const result = await scope.run(dag);
    board.finish('succeeded');
    return result;
  } catch (err) {
    for (const s of board.status().steps) {
      if (s.state === 'pending' || s.state === 'running' || s.state === 'waiting-for-operator') {
        board.set(s.step, aborted() ? 'failed' : s.state === 'pending' ? 'skipped' : 'failed', aborted() ? `aborted: ${abortReason}` : undefined);
      }
    }
    board.finish('failed');
    if (aborted()) throw ApplicationFailure.nonRetryable(`release ${tag} aborted by an operator: ${abortReason}`, 'Aborted');
    throw err;
  }
}

function builtNote(b: BuiltPackage): string | undefined {
  if (b.reusedFrom) return `reused the files an earlier run of this commit built at ${b.reusedFrom}`;
  if (b.adopted?.length) return `the index already held ${b.adopted.join(', ')} from an earlier run of this commit (same contents); those bytes are this release's`;
  return undefined;
}

function verifiedNote(image: PublishedImage): string {
  return (image.verified ?? []).map((v) => `${v.platform}: ${v.packages.map((p) => `${p.name} ${p.version}`).join(', ')}`).join('; ');
}

function summary(
  input: ReleaseInput,
  version: string,
  commit: string,
  built: readonly BuiltPackage[],
  published: readonly PublishedPackage[],
  images: readonly PublishedImage[],
): ReleaseSummary {
  const { owner, name } = input.config.repository;
  return {
    repository: `${owner}/${name}`,
    tag: input.tag,
    version,
    commit,
    dryRun: input.dryRun ?? false,
    packages: built.map((b) => {
      const p = published.find((x) => x.package === b.package);
      return { ...b, uploaded: p?.uploaded ?? [], alreadyPresent: p?.alreadyPresent ?? [] };
    }),
    images,
  };
}
