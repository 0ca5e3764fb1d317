import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-influxd.ts'],
    // Every file starts real servers (broker, influxd, mosquitto); on 2 cores they run one file at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    // Real servers on a shared 2-core machine: in CI a test that fails once is run again, and the
    // summary still shows it (a retried test is reported); locally nothing is retried.
    retry: process.env.CI ? 1 : 0,
    hookTimeout: 90_000,
    reporters: ['default', './tests/helpers/summary-reporter.ts'],
  },
});
