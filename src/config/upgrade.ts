// Config snapshots recorded in workflow history by an older tagship, brought up to today's shape.
import { ConfigError, configSchema, formatPath, type TagshipConfig } from './schema';

/**
 * A config snapshot from workflow history, with every key added since it was recorded filled in
 * with its default: releases started by an older tagship run on with today's activities.
 */
export function upgradeConfig(snapshot: TagshipConfig): TagshipConfig {
  const result = configSchema.safeParse(snapshot);
  if (!result.success) throw new ConfigError(`the release's configuration snapshot no longer parses: ${result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`);
  return result.data;
}
