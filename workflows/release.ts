// One release of one tag: validate → build every package → publish and wait until visible per
// package → build and push each image variant as soon as the packages it installs are visible.
// Deterministic orchestration only; every side effect is an activity in ../activities.
import { ActivityFailure, ApplicationFailure, condition, proxyActivities, setCurrentDetails, setHandler, type ActivityOptions } from '@temporalio/workflow';
import { oidcTokenSignal, startReleaseSignal } from './signals';
import type * as activities from '../activities';
import type { TagshipConfig } from '../src/config';
import type { BuiltPackage, PublishedPackage, ReleaseInput, ReleaseSummary, PublishedImage } from '../src/release-types';

type Activities = ReturnType<typeof activities.createActivities>;

const retry = (maximumAttempts: number): ActivityOptions['retry'] => ({
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts,
});

type StepKind = 'validate' | 'build' | 'publish' | 'visible' | 'image';

function stepOptions(timeouts: TagshipConfig['timeouts']): Record<StepKind, ActivityOptions> {
  return {
    validate: { startToCloseTimeout: timeouts.validate, retry: retry(5) },
    build: { startToCloseTimeout: timeouts.build, heartbeatTimeout: '1m', retry: retry(3) },
    publish: { startToCloseTimeout: timeouts.publish, heartbeatTimeout: '1m', retry: retry(8) },
    visible: { startToCloseTimeout: timeouts.visible, heartbeatTimeout: '1m', retry: retry(5) },
    image: { startToCloseTimeout: timeouts.image, heartbeatTimeout: '2m', retry: retry(5) },
  };
}

/** Activities whose id names the step ("build:open-ticket-ai"), so history and UI read as the release's steps. */
function steps(timeouts: TagshipConfig['timeouts']) {
  const options = stepOptions(timeouts);
  const named = (kind: StepKind, subject?: string) =>
    proxyActivities<Activities>({ ...options[kind], activityId: subject === undefined ? kind : `${kind}:${subject}` });
  return {
    validate: (a: Parameters<Activities['validateRelease']>[0]) => named('validate').validateRelease(a),
    build: (a: Parameters<Activities['buildPackage']>[0]) => named('build', a.package).buildPackage(a),
    publish: (a: Parameters<Activities['publishPackage']>[0]) => named('publish', a.package).publishPackage(a),
    visible: (a: Parameters<Activities['waitUntilVisible']>[0]) => named('visible', a.package).waitUntilVisible(a),
    image: (a: Parameters<Activities['publishImage']>[0]) => named('image', a.variant).publishImage(a),
  };
}

export async function release(input: ReleaseInput): Promise<ReleaseSummary> {
  const { config, tag } = input;
  const dryRun = input.dryRun ?? false;
  const step = steps(config.timeouts);
  const token = tokenState(tag);

  const validated = await step.validate({ config, tag });
  const { version, commit } = validated;

  // Publish starts only when every package built: a broken build must not leave half a release on
  // an index where files can never be replaced.
  const built: BuiltPackage[] = await Promise.all(
    config.packages.map((p) => step.build({ config, tag, commit, version, package: p.name })),
  );

  if (dryRun) {
    return summary(input, version, commit, built, [], []);
  }

  const visible = new Map<string, Promise<PublishedPackage>>();
  for (const pkg of built) {
    visible.set(
      pkg.package,
      (async () => {
        const published = await token.publish((oidcToken) =>
          step.publish({ config, package: pkg.package, version, files: pkg.files, ...(oidcToken ? { oidcToken } : {}) }),
          pkg.package, config.timeouts.token_wait);
        await step.visible({ config, package: pkg.package, files: pkg.files });
        return published;
      })(),
    );
  }

  const images: Promise<PublishedImage>[] = config.variants.map(async (variant) => {
    await Promise.all(variant.packages.map((p) => visible.get(p)));
    return step.image({ config, tag, commit, version, variant: variant.name });
  });

  // Awaited together so a failure in either is reported, never left as an unhandled rejection.
  const [published, pushed] = await Promise.all([Promise.all(visible.values()), Promise.all(images)]);
  return summary(input, version, commit, built, published, pushed);
}

const TOKEN_FAILURES = new Set(['OidcTokenUnavailable', 'OidcTokenExpired']);

function needsFreshToken(err: unknown): err is ActivityFailure {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && TOKEN_FAILURES.has(err.cause.type ?? '');
}

/**
 * The OIDC token CI forwards (startRelease) or sends later (oidcToken). A publish step whose token
 * is missing or expired waits for a newer one, visibly in the UI, until `token_wait` runs out.
 */
function tokenState(tag: string) {
  let current: string | undefined;
  let generation = 0;
  const waiting = new Set<string>();
  const accept = (t: string | undefined) => {
    if (!t) return;
    current = t;
    generation++;
  };
  setHandler(startReleaseSignal, (s) => {
    if (s.tag === tag) accept(s.pypiOidcToken);
  });
  setHandler(oidcTokenSignal, (s) => accept(s.token));
  const show = () =>
    setCurrentDetails(
      waiting.size === 0
        ? ''
        : `**Waiting for a fresh OIDC token** for ${[...waiting].map((p) => `publish:${p}`).join(', ')}.\n\n` +
            'Re-run the CI job, or send the `oidcToken` signal with `{"token": "<id token>"}`.',
    );
  return {
    async publish<T>(attempt: (token: string | undefined) => Promise<T>, pkg: string, deadline: string): Promise<T> {
      for (;;) {
        const seen = generation;
        try {
          return await attempt(current);
        } catch (err) {
          if (!needsFreshToken(err)) throw err;
          if (generation > seen) continue;
          waiting.add(pkg);
          show();
          const arrived = await condition(() => generation > seen, deadline);
          waiting.delete(pkg);
          show();
          if (!arrived) {
            throw ApplicationFailure.nonRetryable(
              `publish:${pkg} waited ${deadline} for a fresh OIDC token and got none: ${err.cause?.message ?? err.message}`,
              'OidcTokenTimeout',
            );
          }
        }
      }
    },
  };
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
