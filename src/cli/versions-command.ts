// `tagship versions check|set`: the seed's scripts/set_version.py and its CI version check.
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE, loadConfig } from '../config';
import { VersionError, checkVersions, setVersions } from '../versions';

interface RepoOptions {
  readonly repo: string;
  readonly config?: string;
}

async function configFor(opts: RepoOptions) {
  const repoDir = resolve(opts.repo);
  // An explicit --config must exist; the repository's own tagship.toml may be absent (seed defaults).
  const config = opts.config ? await loadConfig(resolve(opts.config)) : await loadConfig(join(repoDir, CONFIG_FILE), { optional: true });
  return { repoDir, config };
}

export function registerVersionsCommands(program: Command): void {
  const versions = program.command('versions').description('check or set the one version all packages share');
  versions
    .command('check')
    .description('check that every package has the same version, and that --tag names it')
    .option('--repo <dir>', 'repository root', '.')
    .option('--tag <tag>', 'release tag that must name the version, e.g. v1.0.18')
    .option('--config <file>', `configuration file (default <repo>/${CONFIG_FILE})`)
    .action(async (opts: RepoOptions & { tag?: string }) => {
      const { repoDir, config } = await configFor(opts);
      const result = await checkVersions({ repoDir, config, ...(opts.tag !== undefined ? { tag: opts.tag } : {}) });
      if (!result.ok) {
        process.stderr.write(`${result.errors.join('\n')}\n`);
        process.exitCode = 1;
        return;
      }
      const version = result.packages[0]?.version ?? '';
      process.stdout.write(`OK: ${result.packages.length} packages at version ${version}${opts.tag ? `, matching tag ${opts.tag}` : ''}\n`);
      for (const p of result.packages) process.stdout.write(`  ${p.name}: ${p.version} (${p.file})\n`);
    });
  versions
    .command('set')
    .description("set every package's [project] version (only that line changes)")
    .argument('<version>', 'the new version, e.g. 1.0.18')
    .option('--repo <dir>', 'repository root', '.')
    .option('--config <file>', `configuration file (default <repo>/${CONFIG_FILE})`)
    .action(async (version: string, opts: RepoOptions) => {
      const { repoDir, config } = await configFor(opts);
      let changes;
      try {
        changes = await setVersions({ repoDir, config, version });
      } catch (err) {
        // Same shape as `check`: the problems alone, one per line, rather than `tagship: ` + a blob.
        if (!(err instanceof VersionError)) throw err;
        process.stderr.write(`${err.errors.join('\n')}\n`);
        process.exitCode = 1;
        return;
      }
      for (const change of changes) process.stdout.write(`${change.file}: ${change.from} -> ${change.to}\n`);
    });
}
