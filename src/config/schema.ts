// The shape of tagship.toml: what to release and where, every key checked. Defaults reproduce Open
// Ticket AI's release (the seed), so an empty file describes that monorepo. Pure: no file access, so
// the planner and the workflow-safe contract can use its types.
import { z } from 'zod';

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const VARIANT = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;
const DURATION = /^\d+(?:ms|s|m|h)$/;
const OWNER_REPO = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})$/;
// registry[:port]/path, lower-case as OCI references require.
const IMAGE_REPO = /^[a-z0-9.-]+(?::\d+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)+$/;
const REGISTRY_HOST = /^[a-z0-9.-]+(?::\d{1,5})?$/;
const BUILD_ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
// OCI tag grammar, checked after the template's placeholders are filled with sample values.
const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const TAG_PLACEHOLDERS = ['version', 'major', 'minor', 'patch', 'variant'] as const;

/** The build arguments tagship sets itself; a `[images.build_args]` entry may not override them. */
export const RESERVED_BUILD_ARGS = ['VERSION', 'PACKAGES', 'REQUIREMENTS', 'INDEX_URL', 'VARIANT'] as const;

/** The seed's two tags per variant. */
export const DEFAULT_IMAGE_TAGS = ['{version}-{variant}', '{variant}-latest'] as const;

const tagTemplate = z.string().superRefine((t, ctx) => {
  const unknown = [...t.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!).filter((n) => !(TAG_PLACEHOLDERS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    ctx.addIssue({ code: 'custom', message: `unknown placeholder {${unknown[0]}}; use ${TAG_PLACEHOLDERS.map((n) => `{${n}}`).join(', ')}` });
    return;
  }
  const sample = t
    .replaceAll('{version}', '10.20.30rc1')
    .replaceAll('{major}', '10')
    .replaceAll('{minor}', '20')
    .replaceAll('{patch}', '30')
    .replaceAll('{variant}', 'hf_local');
  if (!OCI_TAG.test(sample))
    ctx.addIssue({ code: 'custom', message: 'must give an image tag (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")' });
});

/** A repository cloned from GitHub (the default when no url is given) gets a GitHub Release. */
export function isGitHubRepository(url: string | undefined): boolean {
  if (url === undefined) return true;
  const host = URL.canParse(url) ? new URL(url).hostname : /^git@([^:]+):/.exec(url)?.[1];
  return host === 'github.com';
}

const argv = z.array(z.string().min(1)).min(1).max(64);

const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.startsWith('-'), {
    message: 'must be a relative path inside the repository (no "..", no leading "/" or "-")',
  });

const httpUrl = z.string().refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), { message: 'must be an http(s) URL' });

const duration = z.string().regex(DURATION, 'must be a duration like "90s", "10m" or "1h"');

/** Every section of tagship.toml, each checked on its own (upgrading a step's slice parses only its sections). */
export const configSections = z
  .object({
    repository: z
      .object({
        owner: z.string().regex(OWNER_REPO, 'must be a GitHub owner name').default('Softoft-Orga'),
        name: z.string().regex(OWNER_REPO, 'must be a GitHub repository name').default('open-ticket-ai'),
        // Where workers clone from: a git URL or a local path; defaults to the GitHub repository.
        url: z
          .string()
          .min(1)
          .refine((u) => !u.startsWith('-'), 'must not start with "-"')
          // A token in the URL would reach git's argv, logs and workflow history.
          .refine(
            (u) => !URL.canParse(u) || (new URL(u).username === '' && new URL(u).password === ''),
            'must not contain credentials; give git its credentials through a credential helper',
          )
          .optional(),
      })
      .strict()
      .prefault({}),
    packages: z
      .array(z.object({ name: z.string().regex(NAME, 'must be a PEP 508 project name'), path: relPath }).strict())
      .min(1)
      .default([
        { name: 'open-ticket-ai', path: '.' },
        { name: 'otai-hf-local', path: 'packages/otai_hf_local' },
        { name: 'otai-otobo-znuny', path: 'packages/otai_otobo_znuny' },
      ]),
    variants: z
      .array(
        z
          .object({
            name: z.string().regex(VARIANT, 'must be lower-case letters, digits, "_", "." or "-"'),
            packages: z.array(z.string()).min(1),
            // Overrides [images] smoke for this variant; [] turns the smoke test off for it.
            smoke: z.array(z.string().min(1)).max(64).optional(),
          })
          .strict(),
      )
      .default([
        { name: 'core', packages: ['open-ticket-ai'] },
        { name: 'hf_local', packages: ['open-ticket-ai', 'otai-hf-local'] },
        { name: 'otobo_znuny', packages: ['open-ticket-ai', 'otai-otobo-znuny'] },
        { name: 'all', packages: ['open-ticket-ai', 'otai-hf-local', 'otai-otobo-znuny'] },
      ]),
    images: z
      .object({
        repository: z.string().regex(IMAGE_REPO, 'must be an image repository like "ghcr.io/owner/name"').default('ghcr.io/softoft-orga/open-ticket-ai'),
        dockerfile: relPath.default('Dockerfile'),
        context: relPath.default('.'),
        platforms: z.array(z.string().regex(PLATFORM, 'must be a platform like "linux/amd64"')).min(1).default(['linux/amd64', 'linux/arm64']),
        builder: z.enum(['docker', 'buildah']).default('docker'),
        // Plain-HTTP registry (a local one); production registries use TLS.
        insecure: z.boolean().default(false),
        // Other registries reached over plain HTTP, e.g. where a FROM base image lives ("host:port").
        insecure_registries: z.array(z.string().regex(REGISTRY_HOST, 'must be a registry host like "127.0.0.1:5000"')).default([]),
        // Tags pushed for every variant; those without {version} are moving tags (see README).
        tags: z
          .array(tagTemplate)
          .min(1)
          .default([...DEFAULT_IMAGE_TAGS]),
        // Extra --build-arg values, e.g. BASE_IMAGE; tagship's own arguments cannot be overridden.
        build_args: z
          .record(z.string(), z.string().max(4096, 'must be at most 4096 characters'))
          .superRefine((args, ctx) => {
            for (const key of Object.keys(args)) {
              if (!BUILD_ARG_NAME.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'must be a build argument name (letters, digits, "_")' });
              else if ((RESERVED_BUILD_ARGS as readonly string[]).includes(key))
                ctx.addIssue({ code: 'custom', path: [key], message: `is set by tagship (${RESERVED_BUILD_ARGS.join(', ')})` });
            }
          })
          .default({}),
        // A command run in every built image, for every platform, before anything is pushed.
        smoke: argv.optional(),
      })
      .strict()
      .prefault({}),
    index: z
      .object({
        upload_url: httpUrl.default('https://upload.pypi.org/legacy/'),
        simple_url: httpUrl.default('https://pypi.org/simple/'),
        // "trusted-publishing": PyPI's OIDC exchange (the seed); "token": a static token or password
        // from the worker's environment (private indexes).
        auth: z.enum(['trusted-publishing', 'token']).default('trusted-publishing'),
        // Where PyPI's /_/oidc/audience and /_/oidc/mint-token live (pypi.org for upload.pypi.org).
        oidc_url: httpUrl.default('https://pypi.org/'),
      })
      .strict()
      .prefault({}),
    schedule: z
      .object({
        // When `tagship schedule apply` re-points every <variant>-latest (cron, UTC).
        republish_latest: z
          .string()
          .regex(/^(\S+\s+){4}\S+$/, 'must be a 5-field cron expression like "17 4 * * *"')
          .default('17 4 * * *'),
      })
      .strict()
      .prefault({}),
    // Attempts per step before it waits for an operator (retry, skip or abort).
    retries: z
      .object({
        validate: z.number().int().min(1).max(100).default(5),
        build: z.number().int().min(1).max(100).default(3),
        publish: z.number().int().min(1).max(100).default(8),
        visible: z.number().int().min(1).max(100).default(5),
        image: z.number().int().min(1).max(100).default(5),
      })
      .strict()
      .prefault({}),
    ci: z
      .object({
        // The GitHub Actions workflow allowed to start releases through POST /api/releases
        // (checked against the OIDC token's job_workflow_ref).
        workflow: relPath.default('.github/workflows/release.yml'),
        // The GitHub environment the trusted publisher names (the seed's is "pypi"); when set, the
        // OIDC token of a CI request must carry it in its `environment` claim.
        environment: z
          .string()
          .regex(/^[A-Za-z0-9._ -]{1,255}$/, 'must be a GitHub environment name like "pypi"')
          .optional(),
      })
      .strict()
      .prefault({}),
    // The GitHub Release of the tag, created or updated after a release succeeds.
    github_release: z
      .object({
        // Default: on when the repository is cloned from GitHub (repository.url unset or on github.com).
        enabled: z.boolean().optional(),
        api_url: httpUrl.default('https://api.github.com'),
      })
      .strict()
      .prefault({}),
    timeouts: z
      .object({
        validate: duration.default('5m'),
        build: duration.default('15m'),
        publish: duration.default('10m'),
        visible: duration.default('30m'),
        image: duration.default('60m'),
        // How long a publish step waits for a fresh OIDC token (signal) before the release fails.
        token_wait: duration.default('30m'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const configSchema = configSections
  .transform((cfg) => ({ ...cfg, github_release: { ...cfg.github_release, enabled: cfg.github_release.enabled ?? isGitHubRepository(cfg.repository.url) } }))
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.packages.forEach((p, i) => {
      if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['packages', i, 'name'], message: `duplicate package "${p.name}"` });
      names.add(p.name);
    });
    if (!cfg.images.tags.some((t) => t.includes('{version}'))) {
      ctx.addIssue({ code: 'custom', path: ['images', 'tags'], message: 'needs at least one tag with {version}, the tag a release pushes and never moves' });
    }
    const sample = (t: string) =>
      t.replaceAll('{version}', '1.2.3').replaceAll('{major}', '1').replaceAll('{minor}', '2').replaceAll('{patch}', '3').replaceAll('{variant}', 'v');
    const released = new Set(cfg.images.tags.filter((t) => t.includes('{version}')).map(sample));
    cfg.images.tags.forEach((t, i) => {
      if (!t.includes('{version}') && released.has(sample(t))) {
        ctx.addIssue({
          code: 'custom',
          path: ['images', 'tags', i],
          message: `"${t}" names the same tag as a {version} template; a moving tag may never overwrite a release's own tag`,
        });
      }
    });
    if (cfg.variants.length > 1) {
      cfg.images.tags.forEach((t, i) => {
        if (!t.includes('{variant}'))
          ctx.addIssue({
            code: 'custom',
            path: ['images', 'tags', i],
            message: `must contain {variant}: with ${cfg.variants.length} variants, "${t}" would name every variant's image`,
          });
      });
    }
    const variants = new Set<string>();
    cfg.variants.forEach((v, i) => {
      if (variants.has(v.name)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'name'], message: `duplicate variant "${v.name}"` });
      variants.add(v.name);
      v.packages.forEach((p, j) => {
        if (!names.has(p)) {
          ctx.addIssue({ code: 'custom', path: ['variants', i, 'packages', j], message: `unknown package "${p}" (not in [[packages]])` });
        }
      });
    });
  });

export type TagshipConfig = z.output<typeof configSchema>;
export type PackageConfig = TagshipConfig['packages'][number];
export type VariantConfig = TagshipConfig['variants'][number];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('') || '(top level)';
}
