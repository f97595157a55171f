// Config snapshots recorded in workflow history by an older tagship, brought up to today's shape.
import { ConfigError, configSections, formatPath } from './schema';

type SectionName = keyof typeof configSections.shape;

/**
 * A step's config slice (or a whole snapshot, as releases recorded before slices pass) with each
 * section it holds parsed on its own, so keys added since it was recorded get their defaults.
 * Sections the slice does not hold stay absent: a step never reads what was not planned for it.
 */
export function upgradeSlice<S extends object>(slice: S): S {
  const out: Record<string, unknown> = { ...(slice as Record<string, unknown>) };
  // Releases recorded before [index] auth existed uploaded with the worker's credentials; the
  // default that came with trusted publishing must not switch them to it mid-flight.
  const index = out.index;
  if (typeof index === 'object' && index !== null && !('auth' in index) && 'upload_url' in index) out.index = { ...index, auth: 'token' };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(out)) {
    const section = configSections.shape[key as SectionName];
    if (!section) continue;
    const result = section.safeParse(value);
    if (result.success) out[key] = result.data;
    else problems.push(...result.error.issues.map((i) => `${formatPath([key, ...i.path])}: ${i.message}`));
  }
  if (problems.length > 0) throw new ConfigError(`the release's configuration snapshot no longer parses: ${problems.join('; ')}`);
  return out as S;
}
