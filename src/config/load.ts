// Reading tagship.toml: TOML errors with line and column, schema errors with the key, the file
// named in both.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import TOML from '@iarna/toml';
import { ConfigError, configSchema, formatPath, type TagshipConfig } from './schema';

export const CONFIG_FILE = 'tagship.toml';

/** Parses tagship.toml text; `source` names the file in errors. */
export function parseConfig(text: string, source: string): TagshipConfig {
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

/** Reads a config file; a missing file gives the defaults only when `optional`. */
export async function loadConfig(file: string, { optional = false } = {}): Promise<TagshipConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      if (optional) return parseConfig('', file);
      throw new ConfigError(`${file}: configuration file not found`);
    }
    throw err;
  }
  return parseConfig(text, file);
}

/** What `--config FILE` means for the CLI: that file must exist; without it ./tagship.toml, or the seed's defaults. */
export async function loadConfigOption(file: string | undefined): Promise<TagshipConfig> {
  return loadConfig(resolve(file ?? CONFIG_FILE), { optional: file === undefined });
}
