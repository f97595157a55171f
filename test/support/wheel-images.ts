// Real wheels (uv build) installed with the real installer (uv pip install --target) into trees that
// buildah COPYs into FROM scratch images, one per platform, pushed as a multi-platform index: what
// the image-contents verifier reads back.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { PublishedWheel } from '../../activities/lib/image-contents';
import { tools } from '../../activities/lib/tools';

/** A one-package wheel; `extra` copies files (name → source path) into the package directory. */
export async function buildWheel(
  root: string,
  opts: { name: string; version: string; marker: string; extra?: Readonly<Record<string, string>> },
): Promise<PublishedWheel> {
  const module = opts.name.replace(/-/g, '_');
  const dir = join(root, `${opts.name}-${opts.version}-${opts.marker}`);
  await mkdir(join(dir, 'src', module), { recursive: true });
  await writeFile(
    join(dir, 'pyproject.toml'),
    `[project]\nname = "${opts.name}"\nversion = "${opts.version}"\ndescription = "${opts.marker}"\n\n` +
      `[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n` +
      `[tool.hatch.build.targets.wheel]\npackages = ["src/${module}"]\n`,
  );
  await writeFile(join(dir, 'src', module, '__init__.py'), `MARKER = "${opts.marker}"\n`);
  for (const [name, source] of Object.entries(opts.extra ?? {})) await copyFile(source, join(dir, 'src', module, name));
  const out = join(dir, 'dist');
  await execa(tools.uv(), ['build', '--wheel', '--no-progress', '--out-dir', out, dir], { stdin: 'ignore' });
  const filename = (await readdir(out)).find((f) => f.endsWith('.whl'));
  if (!filename) throw new Error(`uv build wrote no wheel into ${out}`);
  const path = join(out, filename);
  return {
    filename,
    path,
    sha256: createHash('sha256')
      .update(await readFile(path))
      .digest('hex'),
  };
}

/** Installs wheels, without dependencies, into `<context>/<site>` as pip would into site-packages. */
export async function installWheels(context: string, site: string, wheels: readonly PublishedWheel[]): Promise<void> {
  await execa(tools.uv(), ['pip', 'install', '--no-progress', '--no-deps', '--target', join(context, site), ...wheels.map((w) => w.path)], { stdin: 'ignore' });
}

export interface ImagePush {
  /** buildah's private storage for the test. */
  readonly buildahRoot: string;
  /** host:port/repository:tag */
  readonly ref: string;
  readonly context: string;
  /** COPY sources relative to the context, each its own layer, copied to "/". */
  readonly layers: readonly string[];
  readonly platforms: readonly string[];
}

function buildah(root: string, args: string[]) {
  return execa(tools.buildah(), ['--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', 'overlay', ...args], { stdin: 'ignore' });
}

/** Builds one FROM scratch image per platform into a manifest list and pushes it with --all.
 * --layers keeps one layer per COPY (buildah otherwise squashes a build into one); --no-cache stops
 * the second platform's build from reusing the first's image, which would leave one platform. */
export async function pushImage(push: ImagePush): Promise<void> {
  const containerfile = join(push.context, 'Containerfile');
  await writeFile(containerfile, `FROM scratch\n${push.layers.map((l) => `COPY ${l}/ /\n`).join('')}`);
  const manifest = `wheel-image-${createHash('sha256').update(push.ref).digest('hex').slice(0, 12)}`;
  try {
    for (const platform of push.platforms) {
      await buildah(push.buildahRoot, [
        'build',
        '--quiet',
        '--layers',
        '--no-cache',
        '--format',
        'docker',
        '--platform',
        platform,
        '--manifest',
        manifest,
        '--file',
        containerfile,
        '--',
        push.context,
      ]);
    }
    await buildah(push.buildahRoot, ['manifest', 'push', '--all', '--quiet', '--tls-verify=false', manifest, `docker://${push.ref}`]);
  } finally {
    await buildah(push.buildahRoot, ['manifest', 'rm', manifest]).catch(() => undefined);
  }
}

/** Drops every image from the test's buildah storage so its directory can be removed. */
export async function clearBuildah(root: string): Promise<void> {
  await buildah(root, ['rmi', '--all', '--force']).catch(() => undefined);
}
