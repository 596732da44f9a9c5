#!/usr/bin/env node
// Entry of `npm run bench:failover`: bundles bench/failover/main.ts (it uses nagios/config.ts
// for nagios.cfg) and runs it with the same arguments from the repository root. The lab
// (scripts/lab/lab.mjs) is loaded as it is, not bundled.
import { bundleAndRun } from './bundle-run.mjs';

await bundleAndRun('failover');
