#!/usr/bin/env node
// Entry of `npm run bench:ha` (issue 14): bundles bench/ha/main.ts and runs it with the same
// arguments; the servers and the agent are the built executables in dist/bin.
import { bundleAndRun } from './bundle-run.mjs';

await bundleAndRun('ha', { format: 'cjs' });
