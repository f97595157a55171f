// A release from a branch or commit starts here: one activity reads the version at that commit,
// creates and pushes tag v<version>; the client then starts the tag's release. It is a workflow of
// its own (not a step of the release) because the release's id names the version, which is known
// only once the commit is read.
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities';
import type { TaggedRelease, TagReleaseInput } from '../activities/tag-release';

type Activities = ReturnType<typeof activities.createActivities>;

export async function tagRef(input: TagReleaseInput): Promise<TaggedRelease> {
  const { tagRelease } = proxyActivities<Activities>({
    activityId: 'tag',
    summary: `tag ${input.ref}`,
    startToCloseTimeout: input.config.timeouts.validate,
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 3 },
  });
  return tagRelease(input);
}
