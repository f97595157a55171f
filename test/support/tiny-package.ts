// A one-module Python package built with the real uv, and its files put in the artifact store as
// the build step would: what the publish tests upload.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { storeArtifact } from '../../activities/lib/artifact-store';
import type { BuiltFile } from '../../src/contract/release';
import { tools } from '../../activities/lib/tools';
import type { WorkerSettings } from '../../activities/lib/settings';

export interface TinyPackageOptions {
  /** Build the wheel too (default: the sdist only). */
  readonly wheel?: boolean;
  /** More files in the module's directory, e.g. a compiled extension. */
  readonly files?: Readonly<Record<string, Buffer | string>>;
}

export async function buildTinyPackage(root: string, name: string, version: string, marker: string, opts: TinyPackageOptions = {}): Promise<string> {
  const dir = join(root, `${name}-${version}-${marker}`);
  const module = join(dir, 'src', name.replace(/-/g, '_'));
  await mkdir(module, { recursive: true });
  for (const [file, content] of Object.entries(opts.files ?? {})) await writeFile(join(module, file), content);
  await writeFile(
    join(dir, 'pyproject.toml'),
    `[project]\nname = "${name}"\nversion = "${version}"\ndescription = "${marker}"\n\n[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n`,
  );
  await writeFile(join(dir, 'src', name.replace(/-/g, '_'), '__init__.py'), `MARKER = "${marker}"\n`);
  const out = join(dir, 'dist');
  await execa(tools.uv(), ['build', '--sdist', ...(opts.wheel ? ['--wheel'] : []), '--no-progress', '--out-dir', out, dir]);
  return out;
}

export async function storeAll(settings: WorkerSettings, dist: string): Promise<BuiltFile[]> {
  const files: BuiltFile[] = [];
  // uv also writes a .gitignore into its output directory; only distributions are published.
  for (const filename of (await readdir(dist)).filter((f) => f.endsWith('.tar.gz') || f.endsWith('.whl'))) {
    const { sha256, size } = await storeArtifact(settings.artifactDir, join(dist, filename));
    files.push({ filename, sha256, size, kind: filename.endsWith('.whl') ? 'wheel' : 'sdist' });
  }
  return files;
}
