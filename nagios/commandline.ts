/**
 * Nagios command lines without a shell: split into words first, substitute macros in each
 * word afterwards, so a macro value (a host name, an argument) can never become shell
 * syntax or more words.
 *
 * The splitter is strict: it understands the quoting a Nagios command_line uses
 * ('single', "double" with \" \\ \$ \` escapes, and backslash outside quotes) and REFUSES,
 * with a message, everything whose meaning needs a shell: unquoted | & ; < > ( ) `,
 * `$(`, glob characters * ? [, a leading ~ or #, and newlines. Quote such characters to
 * pass them literally.
 */

export class CommandLineError extends Error {
  override name = 'CommandLineError';
}

const SHELL_OPERATORS = '|&;<>()`';
const GLOB = '*?[';

/** Splits a command line into words. Throws CommandLineError on what needs a shell. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  const refuse = (what: string, at: number): never => {
    throw new CommandLineError(`command line needs a shell (${what} at column ${at + 1}): '${line.length > 80 ? `${line.slice(0, 77)}...` : line}'; quote the character to pass it literally, or write a script`);
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\n' || c === '\r') refuse('a line break', i);
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) throw new CommandLineError(`unterminated single quote at column ${i + 1} in '${line}'`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        const d = line[j]!;
        if (d === '\\' && j + 1 < line.length && '"\\$`'.includes(line[j + 1]!)) {
          word += line[++j];
        } else if (d === '`') {
          refuse('a backquote inside double quotes', j);
        } else if (d === '$' && line[j + 1] === '(') {
          refuse("'$(' inside double quotes", j);
        } else {
          word += d;
        }
      }
      if (j >= line.length) throw new CommandLineError(`unterminated double quote at column ${i + 1} in '${line}'`);
      inWord = true;
      i = j;
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= line.length) throw new CommandLineError(`trailing backslash in '${line}'`);
      word += line[++i];
      inWord = true;
      continue;
    }
    if (SHELL_OPERATORS.includes(c)) refuse(`'${c}'`, i);
    if (c === '$' && line[i + 1] === '(') refuse("'$('", i);
    if (GLOB.includes(c)) refuse(`the glob character '${c}'`, i);
    if (!inWord && (c === '~' || c === '#')) refuse(`a leading '${c}'`, i);
    word += c;
    inWord = true;
  }
  if (inWord) words.push(word);
  return words;
}

export type MacroLookup = Readonly<Record<string, string | undefined>> | ((name: string) => string | undefined);

/**
 * Replaces `$NAME$` macros in one word; `$$` is a literal `$` (as in Nagios). Unknown
 * macros are left as they are and their names collected in `unknown`.
 */
export function substituteMacros(word: string, macros: MacroLookup, unknown: string[] = []): string {
  const get = typeof macros === 'function' ? macros : (n: string) => (Object.prototype.hasOwnProperty.call(macros, n) ? macros[n] : undefined);
  let out = '';
  let i = 0;
  while (i < word.length) {
    const start = word.indexOf('$', i);
    if (start === -1) {
      out += word.slice(i);
      break;
    }
    out += word.slice(i, start);
    const end = word.indexOf('$', start + 1);
    if (end === -1) {
      out += word.slice(start);
      break;
    }
    const name = word.slice(start + 1, end);
    if (name === '') {
      out += '$';
    } else if (/^[A-Za-z0-9_:-]+$/.test(name)) {
      const value = get(name);
      if (value === undefined) {
        unknown.push(name);
        out += `$${name}$`;
      } else {
        out += value;
      }
    } else {
      // Not a macro (`$5 and $6`): keep the first `$` and look again from the second.
      out += '$';
      i = start + 1;
      continue;
    }
    i = end + 1;
  }
  return out;
}

/** Splits a command line and substitutes macros word by word. Throws on an unknown macro. */
export function commandLineToArgv(line: string, macros: MacroLookup): [string, ...string[]] {
  const words = splitCommandLine(line);
  if (words.length === 0 || words[0] === '') throw new CommandLineError('empty command line');
  const unknown: string[] = [];
  const argv = words.map((w) => substituteMacros(w, macros, unknown));
  if (unknown.length) throw new CommandLineError(`unknown macro${unknown.length > 1 ? 's' : ''} ${[...new Set(unknown)].map((n) => `$${n}$`).join(', ')} in '${line}'`);
  return argv as [string, ...string[]];
}
