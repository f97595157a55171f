// The release's steps and what each waits for: validate → build every package → publish and wait
// until visible per package → build and push each image variant as soon as the packages it installs
// are visible → the GitHub Release. Independent steps run in parallel; a skipped step's dependants
// go on without it.
import { ApplicationFailure } from '@temporalio/workflow';
import type { BuiltPackage, PublishedImage, PublishedPackage, ReleaseInput, ReleaseSummary } from '../src/contract/release';
import { FINISH_STEP, GITHUB_RELEASE_STEP, PREFLIGHT_STEP, VALIDATE_STEP, stepId } from '../src/contract/steps';
import { repositorySlug } from '../src/contract/workflow-ids';
import type { OidcTokens } from './oidc-tokens';
import type { StepBoard } from './step-board';
import { DEFAULT_TOKEN_WAIT, type ReleaseSteps } from './step-options';
import { SKIPPED, type StepRunner } from './step-runner';
import type { UnderWayGate } from './under-way';

export interface ReleaseDagContext {
  readonly input: ReleaseInput;
  readonly steps: ReleaseSteps;
  readonly board: StepBoard;
  readonly runner: StepRunner;
  readonly tokens: OidcTokens;
  readonly aborted: () => boolean;
  /** Answers CI's start-and-wait; its preflight step exists only in releases started since it did. */
  readonly underWay: UnderWayGate;
  readonly withPreflight: boolean;
}

export async function runReleaseDag({ input, steps, board, runner, tokens, aborted, underWay, withPreflight }: ReleaseDagContext): Promise<ReleaseSummary> {
  const { config, tag } = input;
  const dryRun = input.dryRun ?? false;
  const validated = await runner.run(VALIDATE_STEP, () => steps.validate({ tag, ...(dryRun ? { dryRun } : {}) }));
  if (validated === SKIPPED) throw ApplicationFailure.nonRetryable('validate cannot be skipped');
  const { version, commit } = validated;
  board.setVersion(version);

  // Before anything irreversible: every destination must take what this release will write.
  let checks: readonly string[] = [];
  if (withPreflight && !dryRun) {
    const token = tokens.current;
    const preflight = await runner.run(PREFLIGHT_STEP, () => steps.preflight({ tag, commit, version, ...(token ? { oidcToken: token } : {}) }));
    if (preflight !== SKIPPED) {
      checks = preflight.checks.map((c) => `${c.check}: ${c.detail}`);
      board.set(PREFLIGHT_STEP, 'succeeded', checks.join('; '));
    }
  }
  underWay.open({ tag, version, commit, checks });

  // Publish starts only when every package built (or was skipped): a broken build must not
  // leave half a release on an index where files can never be replaced.
  const built = await Promise.all(
    config.packages.map(async (p) => {
      const step = stepId('build', p.name);
      const b = await runner.run(step, () => steps.build({ tag, commit, version, package: p.name, ...(dryRun ? { dryRun } : {}) }));
      if (b === SKIPPED) return { package: p.name, version, files: [] };
      const note = builtNote(b);
      if (note) board.set(step, 'succeeded', note);
      return b;
    }),
  );
  if (dryRun) {
    board.set(FINISH_STEP, 'succeeded');
    return summary(input, version, commit, built, [], []);
  }

  const tokenWait = config.timeouts.token_wait ?? DEFAULT_TOKEN_WAIT;
  const visible = new Map<string, Promise<PublishedPackage | undefined>>();
  for (const pkg of built) {
    visible.set(
      pkg.package,
      (async () => {
        const publishStep = stepId('publish', pkg.package);
        const visibleStep = stepId('visible', pkg.package);
        if (pkg.files.length === 0) {
          for (const s of [publishStep, visibleStep]) board.set(s, 'skipped', 'its build was skipped');
          return undefined;
        }
        const published = await runner.run(publishStep, () =>
          tokens.publish(publishStep, board, aborted, tokenWait, (token) =>
            steps.publish({ package: pkg.package, version, files: pkg.files, ...(token ? { oidcToken: token } : {}) }),
          ),
        );
        await runner.run(visibleStep, () => steps.visible({ package: pkg.package, files: pkg.files }));
        return published === SKIPPED ? undefined : published;
      })(),
    );
  }
  const images = config.variants.map(async (variant) => {
    await Promise.all(variant.packages.map((p) => visible.get(p) ?? Promise.resolve(undefined)));
    const step = stepId('image', variant.name);
    const image = await runner.run(step, () => steps.image({ tag, commit, version, variant: variant.name }));
    if (image === SKIPPED) return undefined;
    // What the operator wants to see of a pushed image: which packages are proven on which platform.
    if (image.verified) board.set(step, 'succeeded', verifiedNote(image));
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
    const gh = await runner.run(GITHUB_RELEASE_STEP, () =>
      steps.githubRelease({
        tag,
        version,
        commit,
        // What the index serves: a skipped publish leaves its built files out of SHA256SUMS.
        files: result.packages.flatMap((p) =>
          p.files
            .filter((f) => p.uploaded.includes(f.filename) || p.alreadyPresent.includes(f.filename))
            .map((f) => ({ filename: f.filename, sha256: f.sha256 })),
        ),
        images: result.images.map((i) => ({
          variant: i.variant,
          tags: i.tags,
          digest: i.digest,
          platforms: (i.verified ?? []).map((v) => ({ platform: v.platform, digest: v.digest })),
        })),
      }),
    );
    if (gh !== SKIPPED) {
      board.set(GITHUB_RELEASE_STEP, 'succeeded', gh.url);
      board.set(FINISH_STEP, 'succeeded');
      return { ...result, githubRelease: { id: gh.id, url: gh.url } };
    }
  }
  board.set(FINISH_STEP, 'succeeded');
  return result;
}

function builtNote(b: BuiltPackage): string | undefined {
  if (b.reusedFrom) return `reused the files an earlier run of this commit built at ${b.reusedFrom}`;
  if (b.adopted?.length)
    return `the index already held ${b.adopted.join(', ')} from an earlier run of this commit (same contents); those bytes are this release's`;
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
  return {
    repository: repositorySlug(input.config),
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
