/**
 * hawatch-query: the Nagios plugin of `hawatch-server query`, as its own small program.
 *
 *   hawatch-query [query] --url URL --key HOST/SERVICE [-t SECONDS]
 *
 * Nagios or Icinga run it for every exported cluster rule on every check interval. Inside the
 * server's bundle (6.6 MB of JavaScript to parse) one run took 0.6 s of CPU; this one imports
 * only the query and the text rules. The words are those of `hawatch-server query`, the word
 * query included, so an exported command line works with either program.
 */
import { parseArgs } from 'node:util';
import { VERSION } from '../../nagios/version.ts';
import { query } from './query.ts';

const USAGE = 'usage: hawatch-query --url URL --key HOST/SERVICE [-t SECONDS]';

export async function queryMain(argv: readonly string[], out: (s: string) => void): Promise<number> {
  let v: { url?: string; key?: string; timeout?: string; help?: boolean; version?: boolean };
  let pos: string[];
  try {
    const p = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { url: { type: 'string' }, key: { type: 'string' }, timeout: { type: 'string', short: 't' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
    });
    v = p.values;
    pos = p.positionals;
  } catch (e) {
    out(`HAWATCH UNKNOWN - ${(e as Error).message.split('\n')[0]!.replace(/['"`]/g, '')}: ${USAGE}\n`);
    return 3;
  }
  if (v.help) {
    out(`hawatch-query ${VERSION}: the state of one hawatch object (a cluster rule) as a Nagios plugin\n${USAGE}\n`);
    return 0;
  }
  if (v.version) {
    out(`hawatch-query ${VERSION}\n`);
    return 0;
  }
  if (pos.length > 1 || (pos.length === 1 && pos[0] !== 'query')) {
    out(`HAWATCH UNKNOWN - unexpected words ${pos.join(' ').replace(/[^A-Za-z0-9 ._/-]/g, '?')}: ${USAGE}\n`);
    return 3;
  }
  if (v.url === undefined || v.key === undefined) {
    out(`HAWATCH UNKNOWN - query needs --url URL and --key HOST/SERVICE: ${USAGE}\n`);
    return 3;
  }
  const r = await query(v.url, v.key, Number(v.timeout ?? 10));
  out(r.text);
  return r.code;
}
