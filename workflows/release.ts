// One release of one tag: validate → build every package → publish and wait until visible per
// package → build and push each image variant as soon as the packages it installs are visible.
// Deterministic orchestration only; every side effect is an activity in ../activities.
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
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
        const published = await step.publish({ config, package: pkg.package, version, files: pkg.files });
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
