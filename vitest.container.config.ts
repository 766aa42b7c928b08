import { defineConfig } from 'vitest/config';

// The container test (npm run test:container): builds the base image and the Dockerfile and runs the image under
// Docker. Not part of `npm test`; one file, its steps in order, with room for a cold image build.
export default defineConfig({
  test: {
    include: ['test/container/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 50 * 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
