/**
 * Nagios-style command lines without a shell: split into tokens like a POSIX shell would
 * (quotes, backslashes), then expand $MACROS$ inside each token, so an argument that
 * contains spaces or quotes after expansion stays one argument and nothing is interpreted.
 */
export class CommandLineError extends Error {
  override name = 'CommandLineError';
}

export function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let cur = '';
  let inToken = false;
  let i = 0;
  while (i < line.length) {
    const ch = line[i] as string;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) throw new CommandLineError(`unterminated ' at column ${i + 1}`);
      cur += line.slice(i + 1, end);
      inToken = true;
      i = end + 1;
    } else if (ch === '"') {
      i++;
      inToken = true;
      for (;;) {
        if (i >= line.length) throw new CommandLineError('unterminated " in the command line');
        const c = line[i] as string;
        if (c === '"') break;
        if (c === '\\' && i + 1 < line.length && '"\\$'.includes(line[i + 1] as string)) {
          cur += line[i + 1];
          i += 2;
        } else {
          cur += c;
          i++;
        }
      }
      i++;
    } else if (ch === '\\') {
      if (i + 1 >= line.length) throw new CommandLineError('the command line ends with a backslash');
      cur += line[i + 1];
      inToken = true;
      i += 2;
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(cur);
      cur = '';
      inToken = false;
      i++;
    } else {
      cur += ch;
      inToken = true;
      i++;
    }
  }
  if (inToken) tokens.push(cur);
  return tokens;
}

const MACRO = /\$([A-Z0-9_]*)\$/g;

/** Macro names used in a token ('' for the `$$` escape). */
export function macrosIn(token: string): string[] {
  return [...token.matchAll(MACRO)].map((m) => m[1] as string);
}

/** Expands $NAME$ from `values`; `$$` is a literal `$`. Unknown macros throw. */
export function expandMacros(token: string, values: Readonly<Record<string, string>>): string {
  return token.replace(MACRO, (_, name: string) => {
    if (name === '') return '$';
    const v = values[name];
    if (v === undefined) throw new CommandLineError(`unknown macro $${name}$`);
    return v;
  });
}
