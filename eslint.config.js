// ESLint (flat config) with typescript-eslint's type-aware rules; Prettier does the formatting
// (eslint-config-prettier, last, turns off every stylistic rule so the two never fight).
//
// Besides the TypeScript rules this file holds the dependency rule between the "rooms" of the code
// base, written as one `no-restricted-imports` option per folder. Flat config does not merge the
// options of a rule across blocks (the last matching block wins), so each folder's options are
// built in full by `restrict()` below (from `forbid()`'s list of forbidden rooms). Static imports
// and re-exports are checked; dynamic `import()` is not (src/cli/main.ts loads src/dev that way).
// Imports are matched as written (relative paths), so a room is recognised by its name after one
// or more `../`:
// `'../src/dev/x'` from worker/, `'../dev/x'` from src/cli/, `'../../dev/x'` from src/client/sub/.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Every Node built-in, bare (`fs`, `fs/promises`, `child_process`) or with the `node:` scheme.
const NODE_BUILTINS = [...new Set(builtinModules.map((m) => m.replace(/^node:/, '').split('/')[0]))].map(escape).join('|');
const NODE_BUILTIN_RE = `^(node:|(${NODE_BUILTINS})(/|$))`;

// Rooms by their path from the repository root.
const ROOMS = {
  activities: 'activities',
  workflows: 'workflows',
  worker: 'worker',
  client: 'src/client',
  server: 'src/server',
  cli: 'src/cli',
  dev: 'src/dev',
  codec: 'src/codec',
  config: 'src/config',
  contract: 'src/contract',
};

// A regex for a relative import that lands in `room`: `../(../)*<room>` for the top-level
// folders; `../(../)*[src/]<room>` for the rooms under src/ (reached as `../dev` from inside src/,
// as `../src/dev` from the top-level folders).
function roomRe(room) {
  const path = ROOMS[room];
  const name = path.startsWith('src/') ? `(src/)?${escape(path.slice(4))}` : escape(path);
  return `^(\\.\\./)+${name}(/|$)`;
}

const forbid = (from, rooms, why) =>
  rooms.map((room) => ({
    regex: roomRe(room),
    message: `${from} must not import ${ROOMS[room]}${why ? ` (${why})` : ''}.`,
  }));

const DEV_WHY = 'the dev stack is left out of the production image; only src/cli/main.ts loads it, through a dynamic import';

const nodeBuiltins = (who) => ({
  regex: NODE_BUILTIN_RE,
  message: `${who} is bundled into the workflow sandbox: no Node built-ins.`,
});

// `@typescript-eslint/no-restricted-imports` (the base rule plus `allowTypeImports`) for a list
// of pattern groups; every message names the rule.
const restrict = (...patterns) => ({
  'no-restricted-imports': 'off',
  '@typescript-eslint/no-restricted-imports': [
    'error',
    { patterns: patterns.flat().map((p) => ({ ...p, message: `${p.message} [dependency rule, docs/ARCHITECTURE.md]` })) },
  ],
});

export default defineConfig(
  globalIgnores(['node_modules/', 'dist/', 'test/fixtures/', '.tagship/', 'docs/', 'examples/', '**/*.d.ts']),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's test()/describe()/it() return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // `import type { X }` and `import { type X, y }` are both fine; the fixer writes the inline form.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      // One import statement per module; a separate `import type` next to a value import is allowed.
      'no-duplicate-imports': ['error', { includeExports: false, allowSeparateTypeImports: true }],
      // Unused code is tsc's job (noUnusedLocals); `_`-prefixed names are deliberate.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],

      // Off on purpose: they would force sweeping rewrites of code that is fine as it is.
      // - no-unsafe-*: config and payloads arrive as parsed TOML/JSON (`any`) and are checked by
      //   zod or by hand right after; typing every intermediate step adds casts, not safety.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // - numbers, booleans and unions in messages (`${port}`, `${err}`) are the house style.
      '@typescript-eslint/restrict-template-expressions': 'off',
      // - `async` functions without `await` keep a Promise-returning signature (activities,
      //   Commander actions, fastify handlers) and are harmless.
      '@typescript-eslint/require-await': 'off',
      // - `throw`/`reject` of non-Error values only happens in tests and adapters that wrap them.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      // - `String(err)` on `unknown` in error paths is intended (it may be anything).
      '@typescript-eslint/no-base-to-string': 'off',
      // - `x!` after a check tsc cannot follow (noUncheckedIndexedAccess) is the lesser evil.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // - control characters in regexes are deliberate (ANSI escapes, tar/zip parsing).
      'no-control-regex': 'off',
    },
  },

  // Plain JavaScript (bin/, this file): no type information.
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },

  // ---- The dependency rule between rooms -------------------------------------------------------
  // Nothing outside src/dev imports src/dev, except src/cli/main.ts (dynamic import), test/ and
  // bench/: the default for every file, replaced below by rooms with their own list.
  {
    files: ['**/*.ts'],
    ignores: ['src/dev/**', 'src/cli/main.ts', 'test/**', 'bench/**'],
    rules: restrict(forbid('this file', ['dev'], DEV_WHY)),
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      ...restrict(forbid('activities/', ['client', 'server', 'cli', 'dev', 'worker', 'workflows'])),
      // An activity's error, causes included, is recorded in workflow history: a cause would carry
      // a child's whole output (logs) and text not yet redacted. Messages keep what matters.
      'preserve-caught-error': 'off',
    },
  },
  {
    files: ['src/client/**/*.ts'],
    rules: restrict(forbid('src/client/', ['activities', 'worker', 'workflows', 'dev', 'server', 'cli'])),
  },
  {
    files: ['src/server/**/*.ts'],
    rules: restrict(forbid('src/server/', ['dev', 'cli', 'worker', 'activities'])),
  },
  {
    files: ['worker/**/*.ts'],
    rules: restrict(forbid('worker/', ['dev', 'cli', 'server'])),
  },
  // src/config imports only src/config and src/contract (and packages).
  {
    files: ['src/config/**/*.ts'],
    rules: restrict({ regex: '^\\.\\./(?!contract/)', message: 'src/config may import only src/config and src/contract.' }),
  },
  // src/config/plan.ts is imported by workflows: config room rule + workflow-safe.
  {
    files: ['src/config/plan.ts'],
    rules: restrict(
      nodeBuiltins('src/config/plan.ts'),
      { regex: '^\\.\\./(?!contract/)', message: 'src/config may import only src/config and src/contract.' },
      { regex: '^\\./load$', message: 'src/config/plan.ts is bundled into workflows; load.ts reads files.' },
    ),
  },
  // src/contract: values only from src/contract and @temporalio/workflow|common; type-only imports
  // from src/config/schema.
  {
    files: ['src/contract/**/*.ts'],
    rules: restrict(
      nodeBuiltins('src/contract'),
      {
        regex: `^(?!\\./|\\.\\./|@temporalio/(workflow|common)(/|$)|node:|(${NODE_BUILTINS})(/|$))`,
        message: 'src/contract may import only src/contract and @temporalio/workflow|common (and types from src/config/schema).',
      },
      {
        regex: '^\\.\\./(?!config/schema$)',
        message: 'src/contract may import only src/contract and @temporalio/workflow|common (and types from src/config/schema).',
      },
      { regex: '^\\.\\./config/schema$', allowTypeImports: true, message: 'src/contract may import only types from src/config/schema (`import type`).' },
    ),
  },
  // workflows: only src/contract, src/config/plan, @temporalio/workflow|common and workflows/
  // itself; type-only imports too (activity types live in src/contract/activities.ts).
  {
    files: ['workflows/**/*.ts'],
    rules: restrict(
      nodeBuiltins('workflows/'),
      {
        regex: `^(?!\\./|\\.\\./|@temporalio/(workflow|common)(/|$)|node:|(${NODE_BUILTINS})(/|$))`,
        message: 'workflows may import only src/contract, src/config/plan, @temporalio/workflow|common and workflows/ (types included).',
      },
      {
        regex: '^\\.\\./(?!src/contract/|src/config/plan$)',
        message: 'workflows may import only src/contract, src/config/plan, @temporalio/workflow|common and workflows/ (types included).',
      },
    ),
  },
  // test/ and bench/: the TypeScript rules, no room restrictions.
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-imports': 'off', '@typescript-eslint/no-restricted-imports': 'off' },
  },

  prettier,
);
