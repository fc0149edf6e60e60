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
    // One file at a time: the integration files run real WebRTC peers, relays and
    // child processes; two at once on a 2-core CI machine starve each other's
    // audio clocks and timers and turn correct code into flaky results.
    fileParallelism: false,
  },
})
