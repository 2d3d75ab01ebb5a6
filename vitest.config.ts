import { defineConfig } from 'vitest/config';

// Integration suites start their own pcscd, SoftHSM2 tokens and Chromium: run files one at a time on
// this 2-core machine so daemons and timing models do not compete, and give them room to start.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
