#!/usr/bin/env node
// Entry of `npm run bench:scheduler`: bundles bench/scheduler/main.ts (it uses the
// executors' TypeScript source for the raw executor phase) and runs it with the same
// arguments. The server and agent phases use the built executables in dist/bin.
import { runBundled } from './bundle-run.mjs';

await runBundled('scheduler');
