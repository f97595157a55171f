// Scheduled: re-point every moving tag of every variant (`<variant>-latest`, `1.0-<variant>`, …)
// at the newest stable release of its family in the registry (a manifest copy, digest kept).
// Heals a tag that was moved by hand, deleted, or missed because a release was skipped. Never
// runs beside a stable release of the same repository: that release moves its tags itself, and a
// copy taken before its push would undo it.
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import { retagSlice, runningReleasesSlice } from '../src/config/plan';
import type { ReleaseActivities } from '../src/contract/activities';
import { retryPolicy } from '../src/contract/failures';
import type { RepublishLatestInput, RepublishLatestSummary } from '../src/contract/release';
import { isStable, parseVersion } from '../src/contract/version';

const act = proxyActivities<ReleaseActivities>({ startToCloseTimeout: '2m', retry: retryPolicy(5) });

export async function republishLatest(input: RepublishLatestInput): Promise<RepublishLatestSummary> {
  const running = await act.runningReleaseVersions({ config: runningReleasesSlice(input.config) });
  const stable = running.filter((v) => {
    const p = parseVersion(v);
    return p !== undefined && isStable(p);
  });
  if (stable.length > 0) {
    const skipped = `release v${stable.at(-1)} is running; it moves -latest itself`;
    setCurrentDetails(`Skipped: ${skipped}`);
    return { skipped, variants: [] };
  }
  const variants = await Promise.all(input.config.variants.map((v) => act.retagLatest({ config: retagSlice(input.config, v.name), variant: v.name })));
  setCurrentDetails(
    variants
      .flatMap((r) =>
        r.tags && r.tags.length > 0 ? r.tags.map((t) => `- \`${t.tag}\`: ${t.outcome} — ${t.reason}`) : [`- ${r.variant}: ${r.outcome} — ${r.reason}`],
      )
      .join('\n'),
  );
  return { variants };
}
