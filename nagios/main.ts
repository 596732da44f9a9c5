/**
 * The bin shim of every standalone plugin: the only place that exits the process.
 */
import { runPlugin, type PluginDescriptor } from './plugin.ts';

export function main(descriptor: PluginDescriptor): void {
  runPlugin(descriptor, process.argv.slice(2)).then(
    ({ exitCode, text }) => {
      process.stdout.write(text, () => process.exit(exitCode));
    },
    () => {
      // runPlugin does not throw; this is the last line of defence against a stack trace.
      process.stdout.write(`${descriptor.prefix} UNKNOWN - internal error\n`, () => process.exit(3));
    },
  );
}
