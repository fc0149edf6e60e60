// Lint rules double as the architecture check: the import direction
// ui -> app -> (net, audio, room) -> identity is enforced per folder.
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
  layer('src/identity', ['room', 'net', 'audio', 'ui', 'app', 'invite', 'relay']),
  layer('src/room', ['net', 'audio', 'ui', 'app', 'relay']),
  layer('src/invite', ['net', 'audio', 'ui', 'app', 'relay']),
  layer('src/net', ['ui', 'app', 'relay']),
  layer('src/audio', ['ui', 'app', 'net', 'room', 'relay']),
  layer('src/app', ['ui', 'relay']),
  layer('relay', ['ui']),
)
