import { defineConfig } from 'vitest/config';

// One config for the whole workspace; each package is a project, run from
// source (no build step between a change and its test).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'bus', include: ['packages/bus/test/**/*.test.ts'] } },
      { test: { name: 'julia-bridge', include: ['packages/julia-bridge/test/**/*.test.ts'] } },
      { test: { name: 'metrics', include: ['packages/metrics/test/**/*.test.ts'] } },
      { test: { name: 'gpu', include: ['packages/gpu/test/**/*.test.ts'] } },
      { test: { name: 'tidy', include: ['tools/tidy/**/*.test.ts'] } },
      { test: { name: 'release', include: ['tools/release/test/**/*.test.ts'] } },
      { test: { name: 'stress', include: ['tools/stress/test/**/*.test.ts'] } },
    ],
  },
});
