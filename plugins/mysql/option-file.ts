/**
 * MySQL/MariaDB option files (`~/.my.cnf`, `--defaults-file`), parsed the way the client
 * libraries read them: `[group]` headers, `key = value` or a bare `key` (true), `#` and `;`
 * comments, single or double quotes with backslash escapes, `-` and `_` equivalent in keys,
 * later values overriding earlier ones, `!include FILE` and `!includedir DIR`.
 *
 * Pure: the caller supplies a reader for includes.
 */

export type OptionGroups = Map<string, Map<string, string>>;

export interface IncludeReader {
  /** Contents of a file, or undefined when it does not exist. */
  readFile(path: string): string | undefined;
  /** File names (not paths) in a directory, or [] when it does not exist. */
  listDir(path: string): string[];
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', s: ' ', '\\': '\\', '"': '"', "'": "'" };

/** Unquotes a value: quoted values keep everything inside; unquoted ones end at ` #`. */
function parseValue(raw: string): string {
  const v = raw.trim();
  const q = v[0];
  if ((q === '"' || q === "'") && v.length >= 2) {
    let out = '';
    for (let i = 1; i < v.length; i++) {
      const ch = v[i]!;
      if (ch === q) return out;
      if (ch === '\\' && i + 1 < v.length) {
        const next = v[i + 1]!;
        out += ESCAPES[next] ?? `\\${next}`;
        i++;
        continue;
      }
      out += ch;
    }
    return out; // unterminated quote: keep what we have, as libmysql does
  }
  const hash = v.search(/\s[#;]/);
  const body = hash === -1 ? v : v.slice(0, hash);
  return body.trim().replace(/\\([ntrbs\\])/g, (_m, c: string) => ESCAPES[c] ?? c);
}

export function normalizeKey(key: string): string {
  return key.trim().toLowerCase().replace(/_/g, '-');
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function parseOptionFile(text: string, path = '', reader?: IncludeReader, into: OptionGroups = new Map(), depth = 0): OptionGroups {
  let group: Map<string, string> | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('!')) {
      const m = /^!(include|includedir)\s+(.+)$/.exec(line);
      if (!m || !reader || depth > 10) continue;
      let target = m[2]!.trim();
      if (!target.startsWith('/') && path) target = `${dirname(path)}/${target}`;
      if (m[1] === 'include') {
        const content = reader.readFile(target);
        if (content !== undefined) parseOptionFile(content, target, reader, into, depth + 1);
      } else {
        for (const name of reader.listDir(target).filter((n) => n.endsWith('.cnf')).sort()) {
          const content = reader.readFile(`${target}/${name}`);
          if (content !== undefined) parseOptionFile(content, `${target}/${name}`, reader, into, depth + 1);
        }
      }
      continue;
    }
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) {
      const name = header[1]!.trim().toLowerCase();
      group = into.get(name);
      if (!group) {
        group = new Map();
        into.set(name, group);
      }
      continue;
    }
    if (!group) continue; // options before any group are ignored by the client library too
    const eq = line.indexOf('=');
    if (eq === -1) group.set(normalizeKey(line.replace(/\s[#;].*$/, '')), 'true');
    else group.set(normalizeKey(line.slice(0, eq)), parseValue(line.slice(eq + 1)));
  }
  return into;
}

/** The merged options of the given groups, later groups overriding earlier ones. */
export function optionsFor(groups: OptionGroups, names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of names) for (const [k, v] of groups.get(n) ?? []) out.set(k, v);
  return out;
}
