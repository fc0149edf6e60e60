import { defineConfig } from 'vitest/config'

// Unit and Node integration tests. Browser tests live in vitest.e2e.config.ts
// because they need a production build and Chromium.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
