import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/container/**'], // npm run test:container (needs Docker)
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
