// A release from a branch or commit starts here: one activity reads the version at that commit,
// creates and pushes tag v<version>; the client then starts the tag's release. It is a workflow of
// its own (not a step of the release) because the release's id names the version, which is known
// only once the commit is read.
import { proxyActivities } from '@temporalio/workflow';
import { tagSlice } from '../src/config/plan';
import type { ReleaseActivities, TaggedRelease } from '../src/contract/activities';
import { retryPolicy } from '../src/contract/failures';
import type { TagRefInput } from '../src/contract/release';

export async function tagRef(input: TagRefInput): Promise<TaggedRelease> {
  const { tagRelease } = proxyActivities<ReleaseActivities>({
    activityId: 'tag',
    summary: `tag ${input.ref}`,
    startToCloseTimeout: input.config.timeouts.validate,
    retry: retryPolicy(3, '30s'),
  });
  return tagRelease({ ...input, config: tagSlice(input.config) });
}
