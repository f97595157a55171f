// A real PyPI-compatible index (pypiserver): legacy upload API at `/`, Simple API at `/simple/`.
// Uploads need a password (as PyPI's do) and never overwrite a file (as PyPI's never do).
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { privateDir, writePrivateFile } from './private-files';
import { freePort, httpOk, startService, type RunningService } from './service';
import { tools } from '../../../activities/lib/tools';

export interface PypiServerOptions {
  readonly dataDir: string;
  readonly port?: number;
  readonly username?: string;
  readonly password?: string;
}

export interface PypiServer {
  readonly uploadUrl: string;
  readonly simpleUrl: string;
  readonly username: string;
  readonly password: string;
  readonly packagesDir: string;
  /** The server process (for the stack's state file). */
  readonly service: RunningService;
  stop(): Promise<void>;
}

/**
 * Writes an Apache htpasswd file (0600: its hash is an offline guess away from the password) with
 * passlib; the password goes over stdin, never argv, and the file is written here, not by passlib,
 * which would create it with the umask's mode.
 */
async function writeHtpasswd(file: string, username: string, password: string): Promise<void> {
  const script = [
    'import sys',
    'from passlib.apache import HtpasswdFile',
    'h = HtpasswdFile()',
    'h.set_password(sys.argv[1], sys.stdin.read())',
    'sys.stdout.buffer.write(h.to_string())',
  ].join('\n');
  const { stdout } = await execa(process.env.PYTHON ?? 'python3', ['-c', script, username], { input: password, stripFinalNewline: false });
  await writePrivateFile(file, stdout);
}

export async function startPypiServer(opts: PypiServerOptions): Promise<PypiServer> {
  const packagesDir = join(opts.dataDir, 'packages');
  await privateDir(opts.dataDir);
  await mkdir(packagesDir, { recursive: true, mode: 0o700 });
  const username = opts.username ?? 'tagship';
  const password = opts.password ?? randomBytes(18).toString('base64url');
  const htpasswd = join(opts.dataDir, 'htpasswd');
  await writeHtpasswd(htpasswd, username, password);
  const port = opts.port ?? (await freePort());
  const base = `http://127.0.0.1:${port}`;
  const service = await startService({
    name: 'pypiserver',
    file: tools.pypiServer(),
    args: [
      'run',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--authenticate',
      'update',
      '-P',
      htpasswd,
      '--disable-fallback',
      '--hash-algo',
      'sha256',
      '--backend',
      'simple-dir',
      '--log-stream',
      'none',
      packagesDir,
    ],
    ports: [port],
    ready: () => httpOk(`${base}/health`),
  });
  return { uploadUrl: `${base}/`, simpleUrl: `${base}/simple/`, username, password, packagesDir, service, stop: () => service.stop() };
}
