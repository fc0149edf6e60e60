// Builds the UI fixture (real App, fake deps) for UI-only browser tests.
import { defineConfig } from 'vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { fileURLToPath } from 'node:url'

export const FIXTURE_DIST = fileURLToPath(new URL('../artifacts/ui-fixture', import.meta.url))

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  publicDir: fileURLToPath(new URL('../../../src/public', import.meta.url)),
  logLevel: 'warn',
  build: { outDir: FIXTURE_DIST, emptyOutDir: true, target: 'es2022' },
  plugins: [svelte()],
})
