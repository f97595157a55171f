// The shape of tagship.toml: what to release and where, every key checked. Defaults reproduce Open
// Ticket AI's release (the seed), so an empty file describes that monorepo. Pure: no file access, so
// the planner and the workflow-safe contract can use its types.
import { z } from 'zod';
import { invalidRepositoryUrl } from '../contract/git-refs';
import { normalizeProjectName } from '../contract/version';

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const VARIANT = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;
const DURATION = /^(\d{1,12})(ms|s|m|h|d)$/;
const DURATION_UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
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

const tagTemplate = z
  .string()
  .max(128, { message: 'must be at most 128 characters', abort: true })
  .superRefine((t, ctx) => {
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

// Bounds on every list and string: a config is recorded whole in each release's history, and one
// that is megabytes long fails only when Temporal refuses to start the workflow.
export const LIMITS = {
  packages: 64,
  variants: 64,
  tags: 16,
  platforms: 8,
  registries: 16,
  buildArgs: 64,
  argv: 64,
  argLength: 4096,
  path: 1024,
  url: 2048,
} as const;
const atMost = (n: number, what: string) => ({ message: `must have at most ${n} ${what}`, abort: true });
const chars = (n: number) => ({ message: `must be at most ${n} characters`, abort: true });

const argv = z
  .array(z.string().min(1).max(LIMITS.argLength, chars(LIMITS.argLength)))
  .min(1)
  .max(LIMITS.argv, atMost(LIMITS.argv, 'arguments'));

const relPath = z
  .string()
  .min(1)
  .max(LIMITS.path, chars(LIMITS.path))
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.startsWith('-'), {
    message: 'must be a relative path inside the repository (no "..", no leading "/" or "-")',
  });

const httpUrl = z
  .string()
  .max(LIMITS.url, chars(LIMITS.url))
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), { message: 'must be an http(s) URL' });

/** Milliseconds of a duration as tagship.toml spells it ("90s", "10m", "7d"), or undefined. */
export function durationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  return m ? Number(m[1]) * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS] : undefined;
}

/** Every duration's bounds: 0s would fail the workflow task forever, a year outlives any release. */
export const DURATION_BOUNDS = { min: '1s', max: '30d' } as const;

const duration = z.string().superRefine((text, ctx) => {
  const ms = durationMs(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text.slice(0, 40))} must be a duration like "90s", "10m", "1h" or "7d"` });
  } else if (ms < durationMs(DURATION_BOUNDS.min)! || ms > durationMs(DURATION_BOUNDS.max)!) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} must be between ${DURATION_BOUNDS.min} and ${DURATION_BOUNDS.max}` });
  }
});

/** A project name (PEP 508); compared with others as PEP 503 normalises it. */
const projectName = z.string().max(100, chars(100)).regex(NAME, 'must be a PEP 508 project name');

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
          .max(LIMITS.url, chars(LIMITS.url))
          // A token in the URL would reach git's argv, logs and workflow history; checked first so
          // that no later message repeats it. GitHub takes a token as the user name too, so only
          // ssh:// (where the user is a login, never a secret) may name one.
          .refine((u) => !URL.canParse(u) || ((p) => p.password === '' && (p.username === '' || p.protocol === 'ssh:'))(new URL(u)), {
            message: 'must not contain credentials; give git its credentials through a credential helper',
            abort: true,
          })
          .superRefine((u, ctx) => {
            const problem = invalidRepositoryUrl(u);
            if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
      })
      .strict()
      .prefault({}),
    packages: z
      .array(z.object({ name: projectName, path: relPath }).strict())
      .min(1)
      .max(LIMITS.packages, atMost(LIMITS.packages, 'packages'))
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
            packages: z.array(projectName).min(1).max(LIMITS.packages, atMost(LIMITS.packages, 'packages')),
            // Overrides [images] smoke for this variant; [] turns the smoke test off for it.
            smoke: z
              .array(z.string().min(1).max(LIMITS.argLength, chars(LIMITS.argLength)))
              .max(LIMITS.argv, atMost(LIMITS.argv, 'arguments'))
              .optional(),
          })
          .strict(),
      )
      .max(LIMITS.variants, atMost(LIMITS.variants, 'variants'))
      .default([
        { name: 'core', packages: ['open-ticket-ai'] },
        { name: 'hf_local', packages: ['open-ticket-ai', 'otai-hf-local'] },
        { name: 'otobo_znuny', packages: ['open-ticket-ai', 'otai-otobo-znuny'] },
        { name: 'all', packages: ['open-ticket-ai', 'otai-hf-local', 'otai-otobo-znuny'] },
      ]),
    images: z
      .object({
        repository: z
          .string()
          .max(255, chars(255))
          .regex(IMAGE_REPO, 'must be an image repository like "ghcr.io/owner/name"')
          .default('ghcr.io/softoft-orga/open-ticket-ai'),
        dockerfile: relPath.default('Dockerfile'),
        context: relPath.default('.'),
        platforms: z
          .array(z.string().max(64, chars(64)).regex(PLATFORM, 'must be a platform like "linux/amd64"'))
          .min(1)
          .max(LIMITS.platforms, atMost(LIMITS.platforms, 'platforms'))
          .default(['linux/amd64', 'linux/arm64']),
        builder: z.enum(['docker', 'buildah']).default('docker'),
        // Plain-HTTP registry (a local one); production registries use TLS.
        insecure: z.boolean().default(false),
        // Other registries reached over plain HTTP, e.g. where a FROM base image lives ("host:port").
        insecure_registries: z
          .array(z.string().max(255, chars(255)).regex(REGISTRY_HOST, 'must be a registry host like "127.0.0.1:5000"'))
          .max(LIMITS.registries, atMost(LIMITS.registries, 'registries'))
          .default([]),
        // Tags pushed for every variant; those without {version} are moving tags (see README).
        tags: z
          .array(tagTemplate)
          .min(1)
          .max(LIMITS.tags, atMost(LIMITS.tags, 'tags'))
          .default([...DEFAULT_IMAGE_TAGS]),
        // Extra --build-arg values, e.g. BASE_IMAGE; tagship's own arguments cannot be overridden.
        build_args: z
          .record(z.string(), z.string().max(LIMITS.argLength, chars(LIMITS.argLength)))
          .superRefine((args, ctx) => {
            if (Object.keys(args).length > LIMITS.buildArgs) ctx.addIssue({ code: 'custom', message: `must have at most ${LIMITS.buildArgs} build arguments` });
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
          .max(128, { message: 'must be at most 128 characters', abort: true })
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
        // How long a step waiting for an operator (retry, skip or abort) waits before the release fails.
        operator_wait: duration.default('7d'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const configSchema = configSections
  .transform((cfg) => ({ ...cfg, github_release: { ...cfg.github_release, enabled: cfg.github_release.enabled ?? isGitHubRepository(cfg.repository.url) } }))
  .superRefine((cfg, ctx) => {
    // Index, uv and pip compare project names PEP 503-normalised: "Open_Ticket.AI" is "open-ticket-ai".
    const names = new Map<string, string>();
    cfg.packages.forEach((p, i) => {
      const key = normalizeProjectName(p.name);
      const first = names.get(key);
      if (first === undefined) names.set(key, p.name);
      else
        ctx.addIssue({
          code: 'custom',
          path: ['packages', i, 'name'],
          message:
            first === p.name ? `duplicate package "${p.name}"` : `duplicate package "${p.name}": the same project as "${first}" (both normalise to "${key}")`,
        });
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
      const listed = new Map<string, string>();
      v.packages.forEach((p, j) => {
        const key = normalizeProjectName(p);
        if (!names.has(key)) {
          ctx.addIssue({ code: 'custom', path: ['variants', i, 'packages', j], message: `unknown package "${p}" (not in [[packages]])` });
        } else if (listed.has(key)) {
          ctx.addIssue({ code: 'custom', path: ['variants', i, 'packages', j], message: `"${p}" is listed twice (as "${listed.get(key)}" before)` });
        }
        listed.set(key, p);
      });
    });
  })
  // A variant names its packages as [[packages]] spells them, so every later step matches exactly.
  .transform((cfg) => {
    const spelling = new Map(cfg.packages.map((p) => [normalizeProjectName(p.name), p.name]));
    return { ...cfg, variants: cfg.variants.map((v) => ({ ...v, packages: v.packages.map((p) => spelling.get(normalizeProjectName(p)) ?? p) })) };
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
