import { describe, expect, it } from 'vitest';
import { CommandLineError, commandLineToArgv, splitCommandLine, substituteMacros } from '../../nagios/commandline.ts';

describe('splitCommandLine', () => {
  it.each([
    ['/usr/lib/nagios/plugins/check_load -w 5,4,3 -c 10,8,6', ['/usr/lib/nagios/plugins/check_load', '-w', '5,4,3', '-c', '10,8,6']],
    ["check_http -H $HOSTADDRESS$ -s 'it''s'", ['check_http', '-H', '$HOSTADDRESS$', '-s', 'its']],
    [`a "b c" 'd e' f\\ g`, ['a', 'b c', 'd e', 'f g']],
    [`"x\\"y\\\\z\\$w" "\\n"`, ['x"y\\z$w', '\\n']],
    ["a '' \"\" b", ['a', '', '', 'b']],
    ['  spaced\t\targs  ', ['spaced', 'args']],
    ["quoted '|;&<>()`*?[~#' \"$ARG1$\"", ['quoted', '|;&<>()`*?[~#', '$ARG1$']],
    ['check_disk -w 10% -p /var/lib/x~y a#b', ['check_disk', '-w', '10%', '-p', '/var/lib/x~y', 'a#b']],
    ['', []],
  ])('%s', (line, words) => {
    expect(splitCommandLine(line)).toEqual(words);
  });

  it.each([
    ['check_x | grep y', /needs a shell \('\|' at column 9\)/],
    ['check_x; rm -rf /', /needs a shell \(';'/],
    ['check_x > /tmp/out', /'>'/],
    ['check_x $(id)', /'\$\('/],
    ['check_x "$(id)"', /'\$\(' inside double quotes/],
    ['check_x `id`', /'`'/],
    ['check_x "`id`"', /backquote inside double quotes/],
    ['check_x /var/log/*.log', /glob character '\*'/],
    ['check_x ~/bin', /leading '~'/],
    ['check_x # comment', /leading '#'/],
    ['check_x\nrm', /line break/],
    ["check_x 'open", /unterminated single quote/],
    ['check_x "open', /unterminated double quote/],
    ['check_x \\', /trailing backslash/],
    ['check_x && y', /'&'/],
  ])('refuses %j', (line, msg) => {
    expect(() => splitCommandLine(line)).toThrow(CommandLineError);
    expect(() => splitCommandLine(line)).toThrow(msg);
  });
});

describe('substituteMacros', () => {
  const macros = { HOSTADDRESS: '192.0.2.10', ARG1: "80%; rm -rf / 'x'", USER1: '/usr/lib/nagios/plugins', EMPTY: '' };
  it('replaces macros inside words, keeps $$ as $, collects unknown ones', () => {
    expect(substituteMacros('$USER1$/check_ping', macros)).toBe('/usr/lib/nagios/plugins/check_ping');
    expect(substituteMacros('-H$HOSTADDRESS$:$HOSTADDRESS$', macros)).toBe('-H192.0.2.10:192.0.2.10');
    expect(substituteMacros('cost$$5', macros)).toBe('cost$5');
    expect(substituteMacros('$EMPTY$x', macros)).toBe('x');
    expect(substituteMacros('a $5.00 b', macros)).toBe('a $5.00 b');
    const unknown: string[] = [];
    expect(substituteMacros('$NOPE$', macros, unknown)).toBe('$NOPE$');
    expect(unknown).toEqual(['NOPE']);
    expect(substituteMacros('$ARG1$', (n) => (n === 'ARG1' ? 'fn' : undefined))).toBe('fn');
    // Inherited names are not macros.
    expect(substituteMacros('$constructor$', macros, [])).toBe('$constructor$');
  });

  it('substitutes after splitting: a macro value stays one word, never shell syntax', () => {
    expect(commandLineToArgv('$USER1$/check_disk -w $ARG1$ -H "$HOSTADDRESS$"', macros)).toEqual([
      '/usr/lib/nagios/plugins/check_disk',
      '-w',
      "80%; rm -rf / 'x'",
      '-H',
      '192.0.2.10',
    ]);
    expect(() => commandLineToArgv('check_x $ARG2$ $ARG3$', macros)).toThrow(/unknown macros \$ARG2\$, \$ARG3\$/);
    expect(() => commandLineToArgv('', macros)).toThrow(/empty command line/);
    expect(() => commandLineToArgv('"" x', macros)).toThrow(/empty command line/);
  });
});
