declare const __HAWATCH_VERSION__: string | undefined;

/** Injected by the build (scripts/build.mjs) and by vitest.config.ts from package.json. */
export const VERSION: string = typeof __HAWATCH_VERSION__ === 'string' ? __HAWATCH_VERSION__ : 'dev';
