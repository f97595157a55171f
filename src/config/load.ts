// Reading tagship.toml: TOML errors with line and column, schema errors with the key, the file
// named in both. There is no configuration without a file: an absent one is an error that says
// which file was looked for, never the seed's defaults (that would release another project).
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import TOML from '@iarna/toml';
import { ConfigError, configSchema, formatPath, type TagshipConfig } from './schema';

export const CONFIG_FILE = 'tagship.toml';

/** Largest tagship.toml read: far above any real one, far below what a workflow input may hold. */
export const MAX_CONFIG_BYTES = 256 * 1024;

/** Where a new configuration starts from, for errors about a missing one. */
export const CONFIG_EXAMPLE = 'examples/open-ticket-ai/tagship.toml in the tagship repository';

/** The configuration file is not there; the CLI treats this as a usage error. */
export class MissingConfigError extends ConfigError {
  override name = 'MissingConfigError';
  constructor(readonly file: string) {
    super(
      `${file}: configuration file not found. tagship releases only what a tagship.toml describes: ` +
        `create one at the repository root (start from ${CONFIG_EXAMPLE}), or name it with --config <file>`,
    );
  }
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB`;

function tooLarge(source: string, bytes: number): ConfigError {
  return new ConfigError(`${source}: configuration file is ${kib(bytes)} (${bytes} bytes); the limit is ${kib(MAX_CONFIG_BYTES)}`);
}

/** Parses tagship.toml text; `source` names the file in errors. */
export function parseConfig(text: string, source: string): TagshipConfig {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) throw tooLarge(source, bytes);
  let raw: unknown;
  try {
    raw = TOML.parse(text);
  } catch (err) {
    const e = err as { line?: number; col?: number; message: string };
    const where = e.line !== undefined ? `:${e.line + 1}:${(e.col ?? 0) + 1}` : '';
    throw new ConfigError(`${source}${where}: invalid TOML: ${e.message.split('\n')[0]}`);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
    throw new ConfigError(`${source}: invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** The file's text, refused by its size before it is read. */
async function readConfigText(file: string): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingConfigError(file);
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size > MAX_CONFIG_BYTES) throw tooLarge(file, size);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Reads a config file; a missing one is a MissingConfigError naming it. */
export async function loadConfig(file: string): Promise<TagshipConfig> {
  return parseConfig(await readConfigText(file), file);
}

/** What `--config FILE` means for the CLI: that file, else ./tagship.toml; either must exist. */
export async function loadConfigOption(file: string | undefined): Promise<TagshipConfig> {
  return loadConfig(resolve(file ?? CONFIG_FILE));
}
