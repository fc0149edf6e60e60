import { defineConfig } from 'vitest/config'

// Browser tests: real Debian Chromium driven by playwright-core against the
// production build served by the relay. Files run one after another because
// two Chromium instances already fill the 2 cores of a CI machine.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
