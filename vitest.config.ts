import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-influxd.ts'],
    // Every file starts real servers (broker, influxd, mosquitto); on 2 cores they run one file at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    // No test is run twice, in CI or locally: one that fails once is a race to find and fix.
    hookTimeout: 90_000,
    reporters: ['default', './tests/helpers/summary-reporter.ts'],
  },
});
