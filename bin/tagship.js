#!/usr/bin/env node
// Runs the CLI. In a source checkout the TypeScript runs through tsx's loader, so what you edit is
// what runs (even after an `npm run build`); an installation without sources (the production
// image) runs the compiled dist/ with plain Node.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/src/cli/main.js', import.meta.url);

async function load() {
  if (existsSync(source)) {
    let register;
    try {
      ({ register } = await import('tsx/esm/api'));
    } catch (err) {
      // Sources without tsx (npm ci --omit=dev in a checkout): the build is the way to run them.
      if (!existsSync(compiled) || err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
      return import(compiled.href);
    }
    register();
    return import(source.href);
  }
  if (existsSync(compiled)) return import(compiled.href);
  process.stderr.write('tagship: neither src/cli/main.ts nor dist/src/cli/main.js is here; run `npm ci` (sources) or `npm run build`\n');
  process.exit(1);
}

const { main } = await load();
process.exit(await main(process.argv.slice(2)));
