// The embedded stack's Python base image: Debian bookworm's python3 (3.11), pip, venv and uv, for
// linux/amd64 and linux/arm64, served from the local registry so Dockerfiles can `FROM
// ${BASE_IMAGE}` without Docker Hub (rate limits, no network in CI sandboxes, slow pulls).
//
// It is built from Debian packages without emulation: debootstrap's first stage (--foreign) only
// downloads and unpacks, and the remaining packages are unpacked with dpkg-deb, so no binary of
// the foreign architecture ever runs. Maintainer scripts therefore never run either; the few
// things they would have made and an image needs (passwd/group, the CA bundle) are made here.
//
// The result is an OCI layout in a per-user cache, built once (~1-1.5 min) and copied into every
// fresh registry in seconds. A build happens in a temporary directory that is renamed into place
// with its completion marker already inside, so a killed build never leaves a half image behind,
// and a lock directory keeps two processes (parallel test files, demo + dev) from building at once.
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { tools } from '../../../activities/lib/tools';

export const BASE_IMAGE_REPOSITORY = 'tagship/python';
export const BASE_IMAGE_TAG = '3.11-bookworm';
/** Pinned so the cache key names exactly what is inside; bump it to rebuild with a newer uv. */
export const UV_VERSION = '0.13.9';
export const BASE_IMAGE_PLATFORMS = ['linux/amd64', 'linux/arm64'] as const;

const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
const PACKAGES = ['python3', 'python3-pip', 'python3-venv', 'ca-certificates'];
const ARCHES = [
  { platform: 'linux/amd64', deb: 'amd64', wheel: 'manylinux_2_17_x86_64' },
  { platform: 'linux/arm64', deb: 'arm64', wheel: 'manylinux_2_17_aarch64' },
] as const;
type Arch = (typeof ARCHES)[number];

const MARKER = 'tagship-complete.json';
// Bumped whenever the way the image is made changes, so caches made the old way are rebuilt.
const RECIPE = 3;
const LAYOUT_TAG = 'latest';
const LOCK_HEARTBEAT_MS = 10_000;
// A live builder touches its lock every LOCK_HEARTBEAT_MS; one untouched this long was left by a killed process.
const LOCK_STALE_MS = 120_000;

export interface BaseImage {
  /** Where the stack's Dockerfiles pull it from, e.g. 127.0.0.1:5000/tagship/python:3.11-bookworm. */
  readonly ref: string;
  readonly platforms: string[];
  /** The tagship cache root ($TAGSHIP_CACHE_DIR, else $XDG_CACHE_HOME/tagship or ~/.cache/tagship). */
  readonly cacheDir: string;
  /** The cached OCI layout (`oci:<imageDir>:latest`); deleting it makes the next run rebuild. */
  readonly imageDir: string;
  /** Digest of the image index, identical in the cache and in the registry. */
  readonly digest: string;
  /** True when this call built the image, false when it came from the cache. */
  readonly built: boolean;
}

export interface EnsureBaseImageOptions {
  /** host:port of a plain-HTTP registry. */
  readonly registryHost: string;
  readonly cacheDir?: string;
  readonly signal?: AbortSignal;
  /** Progress lines; only a build (or waiting for another process's build) says anything. */
  readonly log?: (line: string) => void;
}

interface Marker {
  readonly recipe: number;
  readonly digest: string;
  readonly platforms: string[];
  readonly uv: string;
  readonly suite: string;
  readonly builtAt: string;
}

export class BaseImageError extends Error {
  override name = 'BaseImageError';
}

export function defaultCacheDir(): string {
  const explicit = process.env.TAGSHIP_CACHE_DIR;
  if (explicit) return explicit;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tagship');
}

export function baseImageDirName(): string {
  return `python3.11-${SUITE}-uv${UV_VERSION}`;
}

/** The base image in `opts.registryHost`, built into the cache first if the cache lacks it. */
export async function ensureBaseImage(opts: EnsureBaseImageOptions): Promise<BaseImage> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const log = opts.log ?? (() => {});
  const imagesDir = join(cacheDir, 'base-images');
  const imageDir = join(imagesDir, baseImageDirName());
  let marker = await readMarker(imageDir);
  let built = false;
  if (!marker) {
    await mkdir(imagesDir, { recursive: true });
    const release = await acquireLock(`${imageDir}.lock`, log, opts.signal);
    try {
      // Whoever held the lock before us may just have built it.
      marker = await readMarker(imageDir);
      if (!marker) {
        marker = await build(imagesDir, imageDir, log, opts.signal);
        built = true;
      }
    } finally {
      await release();
    }
  }
  const ref = `${opts.registryHost}/${BASE_IMAGE_REPOSITORY}:${BASE_IMAGE_TAG}`;
  await copyToRegistry(imageDir, opts.registryHost, ref, marker.digest, opts.signal);
  return { ref, platforms: marker.platforms, cacheDir, imageDir, digest: marker.digest, built };
}

async function readMarker(imageDir: string): Promise<Marker | undefined> {
  const text = await readFile(join(imageDir, MARKER), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const m = JSON.parse(text) as Partial<Marker>;
    if (m.recipe === RECIPE && typeof m.digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(m.digest) && Array.isArray(m.platforms)) return m as Marker;
  } catch {
    // An unreadable marker is treated as no image: the build replaces the directory.
  }
  return undefined;
}

async function acquireLock(dir: string, log: (line: string) => void, signal: AbortSignal | undefined): Promise<() => Promise<void>> {
  let announced = false;
  for (;;) {
    signal?.throwIfAborted();
    try {
      await mkdir(dir);
      await writeFile(join(dir, 'owner'), `${hostname()} pid ${process.pid} since ${new Date().toISOString()}\n`);
      const beat = setInterval(() => {
        const now = new Date();
        utimes(dir, now, now).catch(() => {});
      }, LOCK_HEARTBEAT_MS);
      beat.unref();
      return async () => {
        clearInterval(beat);
        await rm(dir, { recursive: true, force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const st = await stat(dir).catch(() => undefined);
    const owner = (await readFile(join(dir, 'owner'), 'utf8').catch(() => '')).trim();
    if (st && (Date.now() - st.mtimeMs > LOCK_STALE_MS || ownerGone(owner))) {
      // Renamed before removal so that of several waiters finding it stale only one removes it.
      const grave = `${dir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      if (
        await rename(dir, grave).then(
          () => true,
          () => false,
        )
      )
        await rm(grave, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      log(`base image: waiting for another process building it (${owner || dir})`);
      announced = true;
    }
    await sleep(1000, undefined, signal ? { signal } : {});
  }
}

/** True when the lock's owner ran on this host and has exited (a killed builder's lock need not be waited out). */
function ownerGone(owner: string): boolean {
  const m = /^(\S+) pid (\d+) /.exec(owner);
  if (!m || m[1] !== hostname()) return false;
  try {
    process.kill(Number(m[2]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function build(imagesDir: string, imageDir: string, log: (line: string) => void, outer: AbortSignal | undefined): Promise<Marker> {
  const started = Date.now();
  log(`base image: building python3.11 + uv ${UV_VERSION} for ${BASE_IMAGE_PLATFORMS.join(', ')} from Debian ${SUITE} into ${imageDir} (once; about a minute)`);
  const work = join(imagesDir, `.build-${baseImageDirName()}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(work);
  // One failing architecture stops the other instead of letting it download for another minute.
  const failed = new AbortController();
  const signal = outer ? AbortSignal.any([outer, failed.signal]) : failed.signal;
  try {
    const roots = await Promise.all(
      ARCHES.map((arch) =>
        rootfs(arch, join(work, arch.deb), log, signal).catch((err: unknown) => {
          failed.abort(err);
          throw err;
        }),
      ),
    );
    const out = join(work, 'image');
    const digest = await assemble(roots, join(work, 'storage'), out, signal);
    const marker: Marker = { recipe: RECIPE, digest, platforms: [...BASE_IMAGE_PLATFORMS], uv: UV_VERSION, suite: SUITE, builtAt: new Date().toISOString() };
    await writeFile(join(out, MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    // Only a directory without a current marker can be here (we hold the lock): debris or an old recipe's image.
    await rm(imageDir, { recursive: true, force: true });
    await rename(out, imageDir);
    log(`base image: built ${digest} in ${Math.round((Date.now() - started) / 1000)} s`);
    return marker;
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => {});
  }
}

/** The root filesystem of one architecture, unpacked from Debian packages plus uv, never executed. */
async function rootfs(arch: Arch, dir: string, log: (line: string) => void, signal: AbortSignal): Promise<string> {
  const root = join(dir, 'rootfs');
  await mkdir(dir, { recursive: true });
  let t = Date.now();
  const uv = fetchUv(arch, join(dir, 'uv'), signal);
  // Unhandled until awaited below; a failure there must not crash the process meanwhile.
  uv.catch(() => {});
  await run(tools.debootstrap(), ['--foreign', `--arch=${arch.deb}`, '--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, root, MIRROR], signal);
  log(`base image: ${arch.deb}: debootstrap (first stage) ${Math.round((Date.now() - t) / 1000)} s`);
  t = Date.now();
  const archives = join(root, 'var/cache/apt/archives');
  const debs = (await readdir(archives)).filter((f) => f.endsWith('.deb')).sort();
  if (debs.length === 0) throw new BaseImageError(`debootstrap left no packages in ${archives}`);
  if (!(await lstat(join(root, 'bin')).catch(() => undefined))?.isSymbolicLink())
    throw new BaseImageError(`debootstrap did not make a merged /usr in ${root} (/bin is not a symlink)`);
  const [dpkgDeb, tar] = [tools.dpkgDeb(), tools.tar()];
  // One at a time, in a fixed order, so a file two packages ship always ends up the same.
  for (const deb of debs) await unpack(dpkgDeb, tar, join(archives, deb), root, signal);
  await Promise.all(debs.map((deb) => rm(join(archives, deb))));
  await rm(join(root, 'debootstrap'), { recursive: true, force: true });
  const lists = join(root, 'var/lib/apt/lists');
  // Package indexes of debootstrap's fake mirror: megabytes no apt could use.
  for (const f of await readdir(lists).catch(() => [])) if (f.startsWith('debootstrap.invalid_')) await rm(join(lists, f), { force: true });
  // Inside a container debootstrap makes /proc a symlink to the host's /proc, which in an image
  // points at itself; the runtime mounts /proc, /sys and /dev on plain empty directories.
  for (const [mount, mode] of [
    ['proc', 0o555],
    ['sys', 0o555],
    ['dev', 0o755],
  ] as const) {
    const path = join(root, mount);
    if (!(await lstat(path).catch(() => undefined))?.isDirectory()) await rm(path, { force: true });
    await mkdir(path, { recursive: true });
    await chmod(path, mode);
  }
  // Device nodes must not reach the image (the runtime provides /dev), nor host files debootstrap copied in.
  for (const entry of await readdir(join(root, 'dev'))) await rm(join(root, 'dev', entry), { recursive: true, force: true });
  await rm(join(root, 'etc/resolv.conf'), { force: true });
  await rm(join(root, 'etc/hostname'), { force: true });
  // What base-passwd's and ca-certificates' maintainer scripts would have made.
  await copyFile(join(root, 'usr/share/base-passwd/passwd.master'), join(root, 'etc/passwd'));
  await copyFile(join(root, 'usr/share/base-passwd/group.master'), join(root, 'etc/group'));
  await writeCaBundle(root);
  const bin = join(root, 'usr/local/bin');
  await mkdir(bin, { recursive: true });
  const uvFiles = await uv;
  for (const file of uvFiles) {
    const dest = join(bin, basename(file));
    await copyFile(file, dest);
    await chmod(dest, 0o755);
  }
  // Fail here, with the reason, rather than in a Dockerfile's RUN an hour later.
  for (const must of ['bin/sh', 'usr/bin/python3.11', 'usr/lib/python3/dist-packages/pip', 'usr/lib/python3.11/venv', 'usr/local/bin/uv']) {
    if (!(await stat(join(root, must)).catch(() => undefined))) throw new BaseImageError(`the ${arch.deb} root filesystem lacks /${must}`);
  }
  log(`base image: ${arch.deb}: unpacked ${debs.length} packages and uv ${Math.round((Date.now() - t) / 1000)} s`);
  return root;
}

/**
 * `dpkg-deb -x`, except that /bin, /lib, /sbin stay symlinks into /usr: plain extraction replaces
 * them with directories, undoing bookworm's merged /usr (packages still ship /bin/bash and friends).
 */
async function unpack(dpkgDeb: string, tar: string, deb: string, root: string, signal: AbortSignal): Promise<void> {
  const source = execa(dpkgDeb, ['--fsys-tarfile', deb], { reject: false, stdin: 'ignore', cancelSignal: signal });
  const args = ['-x', '--keep-directory-symlink', '--numeric-owner', '-f', '-', '-C', root];
  const sink = await source.pipe(tar, args, { reject: false, all: true, cancelSignal: signal });
  const from = await source;
  signal.throwIfAborted();
  if (from.exitCode !== 0)
    throw new BaseImageError(`dpkg-deb --fsys-tarfile ${deb} failed with exit code ${from.exitCode ?? from.signal}:\n${tail(String(from.stderr ?? ''))}`);
  if (sink.exitCode !== 0)
    throw new BaseImageError(
      `tar ${args.join(' ')} (unpacking ${basename(deb)}) failed with exit code ${sink.exitCode ?? sink.signal}:\n${tail(String(sink.all ?? ''))}`,
    );
}

function tail(output: string, n = 20): string {
  return output
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-n)
    .join('\n');
}

/** The concatenated Mozilla bundle that update-ca-certificates writes, which pip and OpenSSL read. */
async function writeCaBundle(root: string): Promise<void> {
  const src = join(root, 'usr/share/ca-certificates/mozilla');
  const certs = (await readdir(src)).filter((f) => f.endsWith('.crt')).sort();
  if (certs.length === 0) throw new BaseImageError(`ca-certificates left no certificates in ${src}`);
  const pems = await Promise.all(certs.map((f) => readFile(join(src, f), 'utf8')));
  await mkdir(join(root, 'etc/ssl/certs'), { recursive: true });
  await writeFile(join(root, 'etc/ssl/certs/ca-certificates.crt'), pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''));
}

/** uv and uvx for `arch`, taken out of the manylinux wheel on PyPI. */
async function fetchUv(arch: Arch, dir: string, signal: AbortSignal): Promise<string[]> {
  const python = tools.python3();
  const dl = join(dir, 'download');
  await run(
    python,
    [
      '-m',
      'pip',
      'download',
      '--disable-pip-version-check',
      '--quiet',
      '--no-deps',
      '--only-binary',
      ':all:',
      '--platform',
      arch.wheel,
      '-d',
      dl,
      `uv==${UV_VERSION}`,
    ],
    signal,
  );
  const wheels = (await readdir(dl)).filter((f) => f.endsWith('.whl'));
  if (wheels.length !== 1)
    throw new BaseImageError(`pip download uv==${UV_VERSION} for ${arch.wheel} gave ${wheels.length} wheels: ${wheels.join(', ') || 'none'}`);
  const extracted = join(dir, 'wheel');
  await run(python, ['-m', 'zipfile', '-e', join(dl, wheels[0]!), extracted], signal);
  const scripts = join(extracted, `uv-${UV_VERSION}.data`, 'scripts');
  const files = ['uv', 'uvx'].map((n) => join(scripts, n));
  for (const f of files) {
    if (!(await stat(f).catch(() => undefined))) throw new BaseImageError(`${wheels[0]} has no ${f.slice(extracted.length + 1)}`);
  }
  return files;
}

/** One image per root filesystem, committed into a manifest list and written as an OCI layout to `out`. */
async function assemble(roots: readonly string[], storage: string, out: string, signal: AbortSignal): Promise<string> {
  const buildah = tools.buildah();
  let driver: 'overlay' | 'vfs' = 'overlay';
  const global = () => ['--root', join(storage, driver, 'root'), '--runroot', join(storage, driver, 'run'), '--storage-driver', driver];
  // overlay cannot mount everywhere (nested containers, some filesystems); vfs always works, just slower.
  const probe = await execa(buildah, [...global(), 'from', '--quiet', '--name', 'tagship-probe', 'scratch'], {
    reject: false,
    all: true,
    stdin: 'ignore',
    cancelSignal: signal,
  });
  if (probe.exitCode === 0) await run(buildah, [...global(), 'rm', 'tagship-probe'], signal);
  else driver = 'vfs';
  const list = `tagship-base-${randomBytes(4).toString('hex')}`;
  try {
    for (const [i, arch] of ARCHES.entries()) {
      const ctr = `${list}-${arch.deb}`;
      await run(buildah, [...global(), 'from', '--quiet', '--name', ctr, 'scratch'], signal);
      await run(buildah, [...global(), 'copy', '--quiet', ctr, `${roots[i]!}/`, '/'], signal);
      await run(
        buildah,
        [
          ...global(),
          'config',
          '--arch',
          arch.deb,
          '--os',
          'linux',
          '--env',
          'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          '--env',
          'LANG=C.UTF-8',
          '--cmd',
          'python3',
          ctr,
        ],
        signal,
      );
      // Timestamp 0 (image and every file in the layer) and no buildah version label: the same packages give the same digest.
      await run(buildah, [...global(), 'commit', '--quiet', '--format', 'oci', '--timestamp', '0', '--identity-label=false', '--manifest', list, ctr], signal);
      await run(buildah, [...global(), 'rm', ctr], signal);
    }
    await run(buildah, [...global(), 'manifest', 'push', '--quiet', '--all', '--format', 'oci', list, `oci:${out}:${LAYOUT_TAG}`], signal);
  } finally {
    await execa(buildah, [...global(), 'rm', '--all'], { reject: false, stdin: 'ignore' });
  }
  return verifyLayout(out);
}

interface IndexJson {
  manifests?: { digest?: string; mediaType?: string; annotations?: Record<string, string>; platform?: { os?: string; architecture?: string } }[];
}

/** The image index digest of the layout's `latest`, after checking it lists every platform. */
async function verifyLayout(out: string): Promise<string> {
  const top = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as IndexJson;
  const entry = top.manifests?.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === LAYOUT_TAG);
  if (!entry?.digest) throw new BaseImageError(`${out}/index.json has no "${LAYOUT_TAG}" entry`);
  const [algo, hex] = entry.digest.split(':');
  const index = JSON.parse(await readFile(join(out, 'blobs', algo!, hex!), 'utf8')) as IndexJson;
  const platforms = (index.manifests ?? []).map((m) => `${m.platform?.os}/${m.platform?.architecture}`);
  const missing = BASE_IMAGE_PLATFORMS.filter((p) => !platforms.includes(p));
  if (missing.length > 0)
    throw new BaseImageError(`the built image index ${entry.digest} lacks ${missing.join(', ')} (has ${platforms.join(', ') || 'nothing'})`);
  return entry.digest;
}

async function copyToRegistry(imageDir: string, registryHost: string, ref: string, digest: string, signal: AbortSignal | undefined): Promise<void> {
  // A persistent registry (tagship dev) usually has it already; a fresh one (tests) never does.
  const url = `http://${registryHost}/v2/${BASE_IMAGE_REPOSITORY}/manifests/${BASE_IMAGE_TAG}`;
  const head = await fetch(url, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(5000)]) : AbortSignal.timeout(5000),
  }).catch(() => undefined);
  if (head?.ok && head.headers.get('docker-content-digest') === digest) return;
  await run(
    tools.skopeo(),
    ['copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${imageDir}:${LAYOUT_TAG}`, `docker://${ref}`],
    signal,
  );
}

/** Runs a command; a failure names the command and ends with its last lines of output. */
async function run(file: string, args: readonly string[], signal: AbortSignal | undefined): Promise<string> {
  signal?.throwIfAborted();
  const child = execa(file, [...args], {
    reject: false,
    all: true,
    stdin: 'ignore',
    // debootstrap calls chroot, mknod and friends from sbin, which a non-login PATH can lack.
    env: { PATH: withSbin(process.env.PATH ?? '') },
  });
  // Cancelling stops the whole tree: killing only debootstrap's shell would leave its wget and tar
  // running, holding the output pipes open for as long as the download takes. (Not a process
  // group of its own: Ctrl-C in a terminal must still reach every one of them directly.)
  const cancel = () => {
    if (child.pid === undefined) return;
    const pid = child.pid;
    void descendants(pid).then((tree) => {
      const all = [pid, ...tree];
      const killAll = (sig: NodeJS.Signals) => {
        for (const p of all) {
          try {
            process.kill(p, sig);
          } catch {
            // Already gone.
          }
        }
      };
      killAll('SIGTERM');
      setTimeout(() => killAll('SIGKILL'), 5_000).unref();
    });
  };
  signal?.addEventListener('abort', cancel, { once: true });
  const result = await child.finally(() => signal?.removeEventListener('abort', cancel));
  const output = String(result.all ?? '');
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new BaseImageError(`${basename(file)} cancelled`);
  if (result.exitCode !== 0) {
    const last = tail(output);
    const why = result.exitCode === undefined ? `was killed (${result.signal ?? 'no exit code'})` : `failed with exit code ${result.exitCode}`;
    throw new BaseImageError(`${[basename(file), ...args].join(' ')} ${why}${last ? `:\n${last}` : ' and printed nothing'}`);
  }
  return output;
}

/** Every live descendant of `pid`, from /proc (the builder only runs on Linux). */
async function descendants(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count from the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(ppid)) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    const next = queue.flatMap((p) => children.get(p) ?? []);
    found.push(...next);
    queue = next;
  }
  return found;
}

function withSbin(path: string): string {
  const dirs = path.split(':').filter(Boolean);
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(d)) dirs.push(d);
  return dirs.join(':');
}
