// `tagship versions check|set`: the seed's scripts/set_version.py and its CI version check.
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE, loadConfig } from '../config/load';
import { MissingToolError, tools } from '../../activities/lib/tools';
import { StaleLockError, findLockFiles, refreshCommand, relock } from './uv-lock';
import { VersionError, checkVersions, describeDynamic, setVersions } from '../../activities/lib/versions';

interface RepoOptions {
  readonly repo: string;
  readonly config?: string;
}

async function configFor(opts: RepoOptions) {
  const repoDir = resolve(opts.repo);
  // --config, else the repository's own tagship.toml; without either there is nothing to check.
  const config = await loadConfig(opts.config ? resolve(opts.config) : join(repoDir, CONFIG_FILE));
  return { repoDir, config };
}

export function registerVersionsCommands(program: Command): void {
  const versions = program.command('versions').description('check or set the one version all packages share');
  versions
    .command('check')
    .description('check that every package has the same version, and that --tag names it')
    .option('--repo <dir>', 'repository root', '.')
    .option('--tag <tag>', 'release tag that must name the version, e.g. v1.0.18')
    .option('--config <file>', `configuration file (default <repo>/${CONFIG_FILE}, which must exist)`)
    .action(async (opts: RepoOptions & { tag?: string }) => {
      const { repoDir, config } = await configFor(opts);
      const result = await checkVersions({ repoDir, config, ...(opts.tag !== undefined ? { tag: opts.tag } : {}) });
      if (!result.ok) {
        process.stderr.write(`${result.errors.join('\n')}\n`);
        process.exitCode = 1;
        return;
      }
      const statics = result.packages.filter((p) => p.version !== undefined).length;
      const fromTag = result.packages.length - statics;
      const head =
        statics > 0
          ? `OK: ${statics} packages at version ${result.version ?? ''}${opts.tag ? `, matching tag ${opts.tag}` : ''}`
          : `OK: ${result.packages.length} packages${opts.tag ? ` at version ${result.version ?? ''} from tag ${opts.tag}` : ''}`;
      process.stdout.write(`${head}${statics > 0 && fromTag > 0 ? `; ${fromTag} with a dynamic version` : ''}\n`);
      for (const p of result.packages) process.stdout.write(`  ${p.name}: ${p.dynamic ? describeDynamic(p.dynamic) : p.version} (${p.file})\n`);
    });
  versions
    .command('set')
    .description("set every package's [project] version (only that line changes), then re-lock uv.lock")
    .argument('<version>', 'the new version, e.g. 1.0.18')
    .option('--repo <dir>', 'repository root', '.')
    .option('--config <file>', `configuration file (default <repo>/${CONFIG_FILE}, which must exist)`)
    .option('--no-lock', 'leave uv.lock as it is (it then no longer matches the new versions)')
    .action(async (version: string, opts: RepoOptions & { lock: boolean }) => {
      const { repoDir, config } = await configFor(opts);
      const lockFiles = await findLockFiles(repoDir, config);
      let uv: string | undefined;
      if (opts.lock && lockFiles.length > 0) {
        // Found before any pyproject.toml changes, so a missing uv leaves the repository untouched.
        try {
          uv = tools.uv();
        } catch (err) {
          if (!(err instanceof MissingToolError)) throw err;
          process.stderr.write(
            `ERROR: ${err.message}\n${lockFiles.join(', ')} must be re-locked after a version change; nothing was changed (--no-lock sets the versions without it)\n`,
          );
          process.exitCode = 1;
          return;
        }
      }
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
      for (const change of changes) {
        process.stdout.write(
          change.dynamic ? `${change.file}: ${describeDynamic(change.dynamic)}, left alone\n` : `${change.file}: ${change.from} -> ${change.to}\n`,
        );
      }
      for (const lockFile of lockFiles) {
        if (uv === undefined) {
          process.stdout.write(`uv.lock: not re-locked (--no-lock), may be stale (${lockFile}); refresh it with: ${refreshCommand(lockFile)}\n`);
          continue;
        }
        try {
          await relock(uv, lockFile);
          process.stdout.write(`uv.lock: re-locked (${lockFile})\n`);
        } catch (err) {
          if (!(err instanceof StaleLockError)) throw err;
          process.stderr.write(
            [
              `ERROR: ${err.lockFile} is now stale: ${err.reason}`,
              ...(err.output ? [err.output] : []),
              `The pyproject.toml files keep version ${version}; fix what uv reports, then refresh the lock with: ${err.command}`,
            ].join('\n') + '\n',
          );
          process.exitCode = 1;
        }
      }
    });
}
