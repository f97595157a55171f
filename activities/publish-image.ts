// Build and push one image variant from the validated commit, then verify it in the registry.
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { TagshipConfig } from '../src/config';
import type { PublishedImage } from '../src/release-types';
import type { WorkerSettings } from '../src/worker-settings';
import { commitTime, ensureCheckout } from './git-checkout';
import { publishVariantImage } from './image-build';
import { repoRef } from './repo-ref';

export interface PublishImageInput {
  readonly config: TagshipConfig;
  readonly tag: string;
  readonly commit: string;
  readonly version: string;
  readonly variant: string;
}

export async function publishImage(settings: WorkerSettings, input: PublishImageInput): Promise<PublishedImage> {
  const variant = input.config.variants.find((v) => v.name === input.variant);
  if (!variant) throw ApplicationFailure.nonRetryable(`variant ${input.variant} is not in the configuration`, 'UnknownVariant');
  const ctx = Context.current();
  const sourceDir = await ensureCheckout(settings.workDir, repoRef(input.config), input.tag, input.commit);
  return publishVariantImage({
    sourceDir,
    config: input.config,
    version: input.version,
    commit: input.commit,
    variant,
    created: await commitTime(sourceDir),
    ...(settings.registry ? { registryAuth: settings.registry } : {}),
    buildahRoot: join(settings.workDir, 'buildah'),
    signal: ctx.cancellationSignal,
    heartbeat: (detail: string) => ctx.heartbeat(detail),
  });
}
