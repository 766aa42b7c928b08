import { defineConfig } from 'vitest/config';

/**
 * Test files that must not share the machine with other test files: they hold a fixed resource (127.0.0.1:53) or
 * measure latency, memory or load against a bound. They run one at a time, after the rest.
 */
const SERIAL = [
  'test/acme/dns-01.test.ts',
  'test/integration/reload-leak.test.ts',
  'test/integration/read-slabs.test.ts',
  'test/integration/slow-readers*.test.ts',
  'test/integration/idle-flood*.test.ts',
  'test/integration/split-write*.test.ts',
  'test/integration/workers*.test.ts',
  'test/integration/udp*.test.ts',
];

/**
 * Most test files spend their time waiting on sockets, child processes and Pebble's validations, not on the CPU:
 * vitest's default (cores − 1: one file at a time on a 2-core machine) left a core idle most of the time. Two at a
 * time: the Node 20 suite on a clean clone took 309 s for 145 files, against 433 s for 126 files one at a time.
 * GATEHOUSE_TEST_WORKERS overrides the count (1 runs everything in sequence).
 */
const workers = Number(process.env.GATEHOUSE_TEST_WORKERS) || 2;

export default defineConfig({
  test: {
    exclude: ['**/node_modules/**', 'test/container/**'], // npm run test:container (needs Docker)
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/node_modules/**', 'test/container/**', ...SERIAL],
          maxWorkers: workers,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'serial',
          include: SERIAL,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
