// Lint for the TypeScript sources, tests and benchmarks, and for the inline <script>s of the
// editor's .html files (eslint-plugin-html extracts them), which run in the browser.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import html from 'eslint-plugin-html';
import globals from 'globals';

// The layers point one way: protocol ← identity ← fleet ← nodes; the simulator, the demo and the
// broker hooks use the layers below them through their public faces. Each folder may not import
// what sits above it (or beside it, where that would tie two shipped parts together).
const above = {
  protocol: ['identity', 'fleet', 'nodes', 'broker', 'sim', 'demo'],
  identity: ['fleet', 'nodes', 'broker', 'sim', 'demo'],
  fleet: ['nodes', 'broker', 'sim', 'demo'],
  nodes: ['broker', 'sim', 'demo'],
  broker: ['fleet', 'nodes', 'sim', 'demo'],
  sim: ['fleet', 'nodes', 'broker', 'demo'],
};
const runtimes = {
  protocol: ['node-red', 'better-sqlite3', 'mqtt', 'aedes'],
  identity: ['node-red', 'better-sqlite3', 'mqtt', 'aedes'],
  fleet: ['node-red', 'mqtt', 'aedes'],
  nodes: ['better-sqlite3', 'mqtt', 'aedes'],
  broker: ['node-red', 'better-sqlite3'],
  sim: ['node-red', 'better-sqlite3', 'aedes'],
};
const layers = Object.entries(above).map(([folder, banned]) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: banned.flatMap((b) => [`**/${b}`, `**/${b}/**`]),
            message: `src/${folder} may not import a layer above it (protocol ← identity ← fleet ← nodes)`,
          },
          { group: runtimes[folder], message: `src/${folder} does not use this runtime` },
        ],
      },
    ],
  },
}));
// Only the store talks to the database driver.
const storeOnly = {
  files: ['src/fleet/**/*.ts'],
  ignores: ['src/fleet/sqlite-*.ts', 'src/fleet/pg-*.ts'],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: above.fleet.flatMap((b) => [`**/${b}`, `**/${b}/**`]),
            message: 'src/fleet may not import a layer above it (protocol ← identity ← fleet ← nodes)',
          },
          {
            group: [...runtimes.fleet, 'better-sqlite3', 'pg'],
            message: 'only the store files use the database driver',
          },
        ],
      },
    ],
  },
};

// The Fleet methods that read or write its store: a node calls them only inside `handle.ask`.
const ASKED = [
  'devices',
  'devicePage',
  'device',
  'versions',
  'setTags',
  'selectDevices',
  'selectedModulesOf',
  'latestFirmware',
  'installLatest',
  'memo',
  'setMemo',
  'registerCredentials',
  'removeCredential',
  'listCredentials',
  'authenticate',
  'authorize',
  'deviceOfLogin',
  'listFirmware',
  'firmware',
  'findFirmware',
  'addFirmware',
  'firmwareFromDescriptor',
  'deleteFirmware',
  'createBatch',
  'whenCreated',
  'pushDirect',
  'control',
  'listBatches',
  'batch',
  'tasks',
  'taskPage',
  'counts',
  'transitions',
  'tick',
  'reportVersion',
  'reportProgress',
  'queryFirmware',
];

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', '.ota-demo/**', '.ci/work/**', '.ci/node22/**', 'docs/**'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'after-used', argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      eqeqeq: ['error', 'smart'],
      // `const node = this` is how every Node-RED node refers to itself inside its handlers.
      '@typescript-eslint/no-this-alias': 'off',
    },
  },
  ...layers,
  storeOnly,
  // Nodes reach a fleet through the Fleet class's own methods, never its store or its caches.
  {
    files: ['src/nodes/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'MemberExpression[property.name=/^(store|openBatches|draining|scheduler)$/]',
          message: 'nodes use the Fleet facade (src/fleet/fleet.ts), not its store or in-memory state',
        },
        {
          // On a store that answers with promises these work only inside a unit of work.
          selector: `CallExpression[callee.property.name=/^(${ASKED.join('|')})$/]:matches([callee.object.name='fleet'], [callee.object.property.name='fleet'])`,
          message:
            "a call that reads or writes the fleet's store goes through the handle: await handle.ask((f) => f.x(…))",
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
  // The editor's scripts served from resources/ run in the browser, as the .html files' do.
  {
    files: ['resources/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      ecmaVersion: 2020,
      globals: { ...globals.browser, RED: 'readonly', $: 'readonly', jQuery: 'readonly' },
    },
    rules: { 'no-unused-vars': ['error', { args: 'none' }], eqeqeq: ['error', 'smart'] },
  },
  {
    files: ['nodes/**/*.html'],
    plugins: { html },
    languageOptions: {
      sourceType: 'script',
      ecmaVersion: 2020,
      globals: { ...globals.browser, RED: 'readonly', $: 'readonly', jQuery: 'readonly' },
    },
    rules: { 'no-unused-vars': ['error', { args: 'none' }], eqeqeq: ['error', 'smart'] },
  },
);
