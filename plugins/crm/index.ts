/**
 * check_ha_crm: the health of a Pacemaker cluster as crm_mon sees it from this node.
 */
import { PluginError, type PluginContext, type PluginDescriptor } from '../../nagios/plugin.ts';
import { leaf } from '../../nagios/result.ts';
import { parseStateName, State } from '../../nagios/states.ts';
import { collect } from './collect.ts';
import { evaluate, parseExpectation, type EvalOptions } from './evaluate.ts';
import { describeCrmMonFailure } from './failure.ts';
import { CrmMonReportedError, CrmParseError, parseCrmMon } from './parse.ts';

function rawStrings(ctx: PluginContext, name: string): string[] {
  const v = ctx.options[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

function evalOptions(ctx: PluginContext): EvalOptions {
  const stateText = ctx.string('failed-action-state') ?? 'WARNING';
  const failedActionState = parseStateName(stateText);
  if (failedActionState === undefined) {
    throw new PluginError(`invalid --failed-action-state '${stateText}': expected OK, WARNING, CRITICAL or UNKNOWN`);
  }
  return {
    ignoreResources: ctx.strings('ignore-resource'),
    ignoreNodes: ctx.strings('ignore-node'),
    // Not ctx.strings(): commas separate the nodes inside one expectation.
    expectations: rawStrings(ctx, 'expect-resource').map(parseExpectation),
    failCount: ctx.thresholds,
    requireStonith: ctx.flag('require-stonith'),
    failedActionState,
  };
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_crm',
  prefix: 'CRM',
  description:
    'Checks a Pacemaker cluster through crm_mon\'s XML status (Pacemaker 2.x --output-as=xml, falling back to the 1.1 --as-xml form): '
    + 'quorum, nodes offline/unclean/standby/maintenance, resources that should run but are stopped or failed, promotable clones '
    + 'without a promoted instance, unmanaged/blocked resources, maintenance-mode, recorded failed actions and fail-counts.',
  thresholds: { subject: 'the highest fail-count of any resource on any node', warning: '2' },
  inputFile: true,
  options: [
    { name: 'crm-mon', type: 'string', restricted: 'program', valueName: 'PATH', help: 'crm_mon to run (default: crm_mon from PATH, else /usr/sbin/crm_mon).' },
    { name: 'cib-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Have crm_mon read this saved CIB instead of the live cluster (sets CIB_file; the CIB_file environment variable works too).' },
    { name: 'sudo', type: 'boolean', help: 'Run crm_mon through "sudo -n" (for users outside the haclient group; see the README for the sudoers rule).' },
    { name: 'ignore-resource', type: 'string', multiple: true, valueName: 'NAME|GLOB', help: 'Leave out resources whose id (or group/clone id) matches; globs * ? [..]; repeatable or comma separated.' },
    { name: 'ignore-node', type: 'string', multiple: true, valueName: 'NAME|GLOB', help: 'Do not judge the state of these nodes; repeatable or comma separated.' },
    { name: 'expect-resource', type: 'string', multiple: true, valueName: 'RSC[:ROLE][@NODE[,NODE...]]', help: 'Require RSC to run (in ROLE: started, promoted, unpromoted) and, if nodes are given, on one of them (a clone: on each of them); repeatable.' },
    { name: 'require-stonith', type: 'boolean', help: 'WARNING when STONITH is disabled or no fencing device runs (otherwise only reported in the long output).' },
    { name: 'failed-action-state', type: 'string', valueName: 'STATE', help: 'State for failed actions still recorded in the status: OK, WARNING or CRITICAL (default WARNING).' },
  ],
  notes: [
    'crm_mon needs root or a user in the haclient group (usermod -a -G haclient nagios), or --sudo with:',
    '  nagios ALL=(root) NOPASSWD: /usr/sbin/crm_mon --output-as=xml --inactive, /usr/sbin/crm_mon --as-xml --inactive',
    '',
    'Examples:',
    '  check_ha_crm',
    '  check_ha_crm --ignore-resource "test-*" --expect-resource vip@node1 --expect-resource db-clone:promoted@node1,node2',
    '  check_ha_crm -w 2 -c 5 --require-stonith',
    '  CIB_file=/tmp/cib.xml check_ha_crm       (or --cib-file /tmp/cib.xml: judge a saved CIB)',
  ].join('\n'),

  async run(ctx) {
    const opts = evalOptions(ctx);
    const got = await collect(ctx);
    let status;
    try {
      status = parseCrmMon(got.text);
    } catch (e) {
      if (e instanceof CrmMonReportedError) {
        const v = describeCrmMonFailure({ code: e.code, messages: e.errors.length ? e.errors : [e.statusMessage], cibFile: got.cibFile, user: got.user });
        throw new PluginError(v.message, v.state);
      }
      if (e instanceof CrmParseError) throw new PluginError(`${e.message} (from ${got.source})`, State.UNKNOWN);
      throw e;
    }
    const result = evaluate(status, opts);
    if (ctx.verbose === 0) return result;
    const source = `${got.source}${got.cibFile ? ` (CIB_file=${got.cibFile})` : ''}`;
    return { ...result, children: [...(result.children ?? []), leaf('source', State.OK, source)] };
  },
};

export default descriptor;
