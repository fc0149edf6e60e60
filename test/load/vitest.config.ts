/**
 * The load tests (`npm run test:load`): a relay under attack while a room on it is heard, a
 * headless peer through a thousand joins and leaves. Not part of `npm test`: at full size they
 * take minutes and all of a 2-core machine. STOOP_SOAK_SCALE scales them (1 = the full numbers).
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/load/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20 * 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
})
