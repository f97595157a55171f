// Scheduled: re-point every moving tag of every variant (`<variant>-latest`, `1.0-<variant>`, …)
// at the newest stable release of its family in the registry (a manifest copy, digest kept).
// Heals a tag that was moved by hand, deleted, or missed because a release was skipped. Stays out
// of the way of a running stable release only for the variants it still moves itself (its image
// steps not yet succeeded or skipped): a release waiting for an operator on one variant no longer
// stops the re-publish of the others. Runs recorded before that (no 'republish-per-variant'
// marker) replay the old rule: any running stable release skipped every variant.
import { patched, proxyActivities, setCurrentDetails, setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import { retagSlice, runningReleasesSlice } from '../src/config/plan';
import type { ReleaseActivities, RetagLatestResult, RunningRelease } from '../src/contract/activities';
import { retryPolicy } from '../src/contract/failures';
import type { RepublishLatestInput, RepublishLatestSummary, SkippedVariant, StepState } from '../src/contract/release';
import { isStable, parseVersion } from '../src/contract/version';

const options = { startToCloseTimeout: '2m', retry: retryPolicy(5) } as const;
const act = proxyActivities<ReleaseActivities>(options);

const isStableVersion = (v: string) => {
  const p = parseVersion(v);
  return p !== undefined && isStable(p);
};

function detailLines(variants: readonly RetagLatestResult[]): string[] {
  return variants.flatMap((r) =>
    r.tags && r.tags.length > 0 ? r.tags.map((t) => `- \`${t.tag}\`: ${t.outcome} — ${t.reason}`) : [`- ${r.variant}: ${r.outcome} — ${r.reason}`],
  );
}

/** What a release is doing on the variant's image step, for the skip reason. */
function imageStepText(variant: string, state: StepState | undefined): string {
  const step = `image:${variant}`;
  switch (state) {
    case undefined:
      return 'is running (its status could not be read)';
    case 'waiting-for-operator':
      return `is waiting for an operator on ${step}`;
    case 'pending':
      return `has ${step} still ahead`;
    case 'failed':
      return `has ${step} failed`;
    default:
      return `is ${state === 'retrying' ? 'retrying' : 'running'} ${step}`;
  }
}

/** The variants running stable releases still move, newest release last so it names the skip. */
function skippedVariants(running: readonly RunningRelease[], variants: readonly string[]): Map<string, SkippedVariant> {
  const skipped = new Map<string, SkippedVariant>();
  for (const r of running.filter((r) => isStableVersion(r.version))) {
    const pending = r.pendingImages ?? variants.map((variant) => ({ variant, state: undefined }));
    for (const { variant, state } of pending) {
      if (!variants.includes(variant)) continue;
      const release = `v${r.version}`;
      skipped.set(variant, { variant, release, reason: `release ${release} ${imageStepText(variant, state)}; it moves ${variant}'s tags itself` });
    }
  }
  return skipped;
}

export async function republishLatest(input: RepublishLatestInput): Promise<RepublishLatestSummary> {
  if (!patched('republish-per-variant')) return republishUnlessAnyRelease(input);
  const names = input.config.variants.map((v) => v.name);
  const skipped = skippedVariants(await act.runningReleases({ config: runningReleasesSlice(input.config) }), names);
  const variants = await Promise.all(
    names.filter((name) => !skipped.has(name)).map((name) => act.retagLatest({ config: retagSlice(input.config, name), variant: name })),
  );
  const skips = names.flatMap((name) => skipped.get(name) ?? []);
  setCurrentDetails([...detailLines(variants), ...skips.map((s) => `- ${s.variant}: skipped — ${s.reason}`)].join('\n'));
  if (skips.length === 0) return { variants };
  if (variants.length > 0) return { variants, skippedVariants: skips };
  const releases = [...new Set(skips.map((s) => s.release))];
  const skippedAll =
    releases.length === 1
      ? `release ${releases[0]} is running; it moves the tags of every variant itself`
      : `releases ${releases.join(', ')} are running; they move the tags of every variant themselves`;
  return { skipped: skippedAll, variants, skippedVariants: skips };
}

/** The rule before 'republish-per-variant', kept as it was for runs recorded with it. */
async function republishUnlessAnyRelease(input: RepublishLatestInput): Promise<RepublishLatestSummary> {
  const running = await act.runningReleaseVersions({ config: runningReleasesSlice(input.config) });
  const stable = running.filter(isStableVersion);
  if (stable.length > 0) {
    const skipped = `release v${stable.at(-1)} is running; it moves -latest itself`;
    setCurrentDetails(`Skipped: ${skipped}`);
    return { skipped, variants: [] };
  }
  const variants = await Promise.all(input.config.variants.map((v) => act.retagLatest({ config: retagSlice(input.config, v.name), variant: v.name })));
  setCurrentDetails(detailLines(variants).join('\n'));
  return { variants };
}

// Under Worker Versioning each scheduled run moves to the current worker build at its next task: it
// holds nothing a new build could misread. Only a versioned worker may name a behaviour.
setWorkflowOptions(() => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: 'AUTO_UPGRADE' } : {}), republishLatest);
