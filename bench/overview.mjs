#!/usr/bin/env node
// Entry of `npm run bench:overview`: bundles bench/overview/main.ts (it starts the server's
// runtime from its TypeScript source, in this process, to measure its event loop) and runs it.
import { bundleAndRun } from './bundle-run.mjs';

await bundleAndRun('overview');
