/**
 * The server's own human texts (executor failures, cluster rule lines, notifications it
 * writes itself, errors on the page) pass through Nagios-compatible tools: Nagios 4 turns
 * `;` into `:` and strips `` ` ~ $ & | ' " < > `` from notification macros. Texts are
 * written without them; this is the safety net for the parts we quote (error messages of
 * libraries and the OS, file names).
 */
const REPLACE: Record<string, string> = { ';': ',', '&': 'and', '|': '/', '<': ' below ', '>': ' above ' };

export const FORBIDDEN = /[;`~$&|'"<>]/;

export function plainText(s: string): string {
  return s
    .replace(/[;&|<>]/g, (c) => REPLACE[c] ?? '')
    .replace(/[`~$'"]/g, '')
    .replace(/ {2,}/g, ' ');
}
