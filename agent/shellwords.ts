/**
 * A strict POSIX-shell word splitter for nrpe.cfg command lines (pure).
 *
 * It understands the quoting a command line needs (single quotes, double quotes with
 * backslash escapes, backslash outside quotes) and nothing else: whenever the line uses
 * something only a shell can do (pipes, redirects, `;`, `&`, variables, command
 * substitution, globs, `~`, comments, `VAR=x cmd`), it says so and the caller runs the line
 * with /bin/sh -c, as NRPE always does. NRPE macros (`$ARGn$`, `$$`) are not shell syntax:
 * they are kept in the words and substituted per word afterwards (see `expandMacros`), so an
 * argument can never add words.
 */

export type SplitResult =
  | { readonly kind: 'words'; readonly words: readonly string[] }
  | { readonly kind: 'shell'; readonly reason: string };

/** Characters that always need the shell when they appear unquoted. */
const SHELL_OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')', '`', '*', '?', '[', '{', '}']);
/** A macro NRPE replaces: `$ARG1$`..`$ARG16$` (any ARGn is taken; out-of-range ones become empty), `$$`. */
const MACRO_AT = /^\$(ARG\d+)?\$/;

/**
 * Splits a command line into words, or tells why it needs a shell. `$ARGn$` and `$$` are
 * left in the words as they are.
 */
export function splitCommandLine(line: string): SplitResult {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const shell = (reason: string): SplitResult => ({ kind: 'shell', reason });
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    if (ch === '\n' || ch === '\r') return shell('a line break');
    if (!inWord) {
      if (ch === '#') return shell("a '#' comment");
      if (ch === '~') return shell("'~' expansion");
    }
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) return shell('an unterminated single quote');
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let closed = false;
      while (j < line.length) {
        const c = line[j]!;
        if (c === '"') {
          closed = true;
          break;
        }
        if (c === '\\') {
          const n = line[j + 1];
          if (n === '"' || n === '\\' || n === '$' || n === '`') {
            word += n;
            j += 2;
            continue;
          }
          if (n === '\n') return shell('a line continuation');
          word += c;
          j++;
          continue;
        }
        if (c === '`') return shell('command substitution');
        if (c === '$') {
          const m = MACRO_AT.exec(line.slice(j));
          if (!m) return shell("a '$' expansion");
          word += m[0];
          j += m[0].length;
          continue;
        }
        word += c;
        j++;
      }
      if (!closed) return shell('an unterminated double quote');
      inWord = true;
      i = j + 1;
      continue;
    }
    if (ch === '\\') {
      const n = line[i + 1];
      if (n === undefined) return shell('a trailing backslash');
      word += n;
      inWord = true;
      i += 2;
      continue;
    }
    if (ch === '$') {
      const m = MACRO_AT.exec(line.slice(i));
      if (!m) return shell("a '$' expansion");
      word += m[0];
      inWord = true;
      i += m[0].length;
      continue;
    }
    if (SHELL_OPERATORS.has(ch)) return shell(`'${ch}'`);
    if (ch === '=' && words.length === 0 && inWord && /^[A-Za-z_][A-Za-z0-9_]*$/.test(word)) return shell('a variable assignment');
    word += ch;
    inWord = true;
    i++;
  }
  if (inWord) words.push(word);
  if (words.length === 0) return shell('an empty command line');
  return { kind: 'words', words };
}

/**
 * Replaces NRPE macros in one word (or a whole line, for the shell case) the way NRPE's
 * process_macros does: `$ARGn$` becomes argument n (empty when missing or n is outside
 * 1..16), `$$` becomes `$`, any other `$text$` is kept as it is.
 */
export function expandMacros(text: string, args: readonly string[]): string {
  if (!text.includes('$')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('$', i);
    if (start === -1) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, start);
    const end = text.indexOf('$', start + 1);
    if (end === -1) {
      out += text.slice(start);
      break;
    }
    const name = text.slice(start + 1, end);
    if (name === '') out += '$';
    else if (/^ARG\d+$/.test(name)) {
      const n = Number(name.slice(3));
      out += n >= 1 && n <= 16 ? (args[n - 1] ?? '') : '';
    } else out += `$${name}$`;
    i = end + 1;
  }
  return out;
}
