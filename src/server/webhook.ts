// What a GitHub delivery means for tagship, decided from its event name and parsed body alone:
// a created `v*.*.*` tag on a configured repository starts its release; everything else is
// ignored with a reason the delivery log shows.
import { z } from 'zod';
import type { TagshipConfig } from '../config/schema';
import { badTagMessage, versionFromTag } from '../contract/version';

const pushPayload = z.object({
  ref: z.string(),
  created: z.boolean().optional(),
  deleted: z.boolean().optional(),
  repository: z.object({ full_name: z.string() }),
});

export type WebhookDecision =
  | { readonly kind: 'pong' }
  | { readonly kind: 'release'; readonly config: TagshipConfig; readonly tag: string }
  | { readonly kind: 'ignore'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly reason: string };

export function repoKey(fullName: string): string {
  return fullName.toLowerCase();
}

export function decideWebhook(event: string | undefined, payload: unknown, repos: ReadonlyMap<string, TagshipConfig>): WebhookDecision {
  if (event === 'ping') return { kind: 'pong' };
  if (event !== 'push') return { kind: 'ignore', reason: `event "${event ?? '(none)'}" is not a push` };
  const parsed = pushPayload.safeParse(payload);
  if (!parsed.success) return { kind: 'invalid', reason: `push payload lacks ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}` };
  const { ref, created, deleted, repository } = parsed.data;
  if (!ref.startsWith('refs/tags/')) return { kind: 'ignore', reason: `${ref} is not a tag` };
  const tag = ref.slice('refs/tags/'.length);
  if (deleted) return { kind: 'ignore', reason: `tag ${tag} was deleted` };
  if (!created) return { kind: 'ignore', reason: `tag ${tag} was moved, not created; a tag is released once` };
  if (versionFromTag(tag) === undefined) return { kind: 'ignore', reason: badTagMessage(tag) };
  const config = repos.get(repoKey(repository.full_name));
  if (!config) return { kind: 'ignore', reason: `repository ${repository.full_name} is not configured on this server` };
  return { kind: 'release', config, tag };
}
