// Lint rules double as the architecture check: the import direction
// is enforced per folder (drawn in docs/architecture.md).
import tseslint from 'typescript-eslint'
import svelte from 'eslint-plugin-svelte'

const layer = (from, forbidden) => ({
  files: [`${from}/**/*.ts`, `${from}/**/*.svelte`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((f) => ({ group: [`**/${f}/*`, `**/${f}`], message: `${from} must not import ${f} (see docs/architecture.md)` })),
    }],
  },
})

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/', 'test/e2e/artifacts/', 'dev-dist/'] },
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  // Bottom to top. `base` (emitter, errors, timers, retry) and `identity` import nothing of ours;
  // `participant` is the cross-platform core of one person in a room, `app` the browser's shell
  // around it and `headless` the Node one; `node` holds Node adapters (hyperswarm, wrtc audio);
  // `relay/` is the server; `cli` is the composition root that nothing imports.
  // Size: a file over 400 lines or a function over 80 is split, or says at its top why not.
  {
    files: ['src/**/*.ts', 'relay/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  layer('src/base', ['identity', 'media', 'room', 'invite', 'net', 'audio', 'participant', 'node', 'app', 'headless', 'ui', 'cli', 'relay']),
  layer('src/identity', ['media', 'room', 'invite', 'net', 'audio', 'participant', 'node', 'app', 'headless', 'ui', 'cli', 'relay']),
  layer('src/room', ['net', 'audio', 'participant', 'node', 'app', 'headless', 'ui', 'cli', 'relay']),
  layer('src/invite', ['net', 'audio', 'participant', 'node', 'app', 'headless', 'ui', 'cli', 'relay']),
  layer('src/audio', ['identity', 'room', 'invite', 'net', 'participant', 'node', 'app', 'headless', 'ui', 'cli', 'relay']),
  // SFrame media encryption, shared by the browser's worker and the Node media path.
  layer('src/media', ['room', 'invite', 'net', 'audio', 'participant', 'node', 'app', 'headless', 'ui', 'cli', 'relay']),
  layer('src/net', ['participant', 'node', 'app', 'headless', 'ui', 'cli', 'relay']),
  layer('src/participant', ['node', 'app', 'headless', 'ui', 'cli', 'relay']),
  layer('src/node', ['participant', 'app', 'headless', 'ui', 'cli', 'relay']),
  layer('src/app', ['node', 'headless', 'ui', 'cli', 'relay']),
  layer('src/headless', ['app', 'ui', 'cli', 'relay']),
  layer('src/ui', ['node', 'headless', 'cli', 'relay']),
  layer('relay', ['participant', 'app', 'headless', 'ui', 'cli']),
  layer('src/cli', ['app', 'ui']),
)
