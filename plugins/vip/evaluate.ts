/**
 * Judges a floating IP from one node's point of view. The perfdata is made to be summed
 * across nodes by the server's cluster rules: sum(vip_owned) must be exactly 1.
 */
import type { Perfdata } from '../../nagios/perfdata.ts';
import { group, leaf, type CheckResult } from '../../nagios/result.ts';
import { State, type StateCode } from '../../nagios/states.ts';
import type { Family } from '../lib/addr.ts';
import type { DadResult, Expectation, PortResult } from './collect.ts';
import type { InterfaceAddress, NetInterface } from './parse.ts';

export interface VipObservation {
  readonly vip: { readonly family: Family; readonly address: string };
  readonly interfaceFilter?: string | undefined;
  /** The interface and address entry holding the VIP here, if any. */
  readonly held?: { readonly iface: NetInterface; readonly addr: InterfaceAddress } | undefined;
  readonly expectation: Expectation;
  /** Undefined when no probe ran; `skipped` says why. */
  readonly dad?: DadResult | undefined;
  readonly dadSkipped?: string | undefined;
  readonly port?: PortResult | undefined;
  /** State when nobody at all holds the address (default CRITICAL). */
  readonly orphanState: StateCode;
}

function macs(d: DadResult): string {
  return d.foreign.map((r) => r.mac).join(', ');
}

export function evaluateVip(o: VipObservation): CheckResult {
  const { address } = o.vip;
  const held = o.held !== undefined;
  const children: CheckResult[] = [];
  const perf: Perfdata[] = [{ label: 'vip_owned', value: held ? 1 : 0, min: 0, max: 1 }];

  // Ownership against the expectation.
  const where = o.held ? ` on ${o.held.iface.name}` : o.interfaceFilter ? ` on ${o.interfaceFilter}` : '';
  const why = o.expectation.role === 'any' ? '' : ` (expected ${o.expectation.role}: ${o.expectation.because})`;
  if (held && o.expectation.role === 'standby') {
    children.push(leaf('ownership', State.CRITICAL, `${address} is held here${where} but this node should be standby${why}`));
  } else if (!held && o.expectation.role === 'owner') {
    const other = o.dad && o.dad.foreign.length > 0 ? `, ${macs(o.dad)} answers for it` : o.dad ? ', no host answers for it' : '';
    children.push(leaf('ownership', State.CRITICAL, `${address} is not held here${where} but this node should own it${why}${other}`));
  } else {
    children.push(leaf('ownership', State.OK, `${address} ${held ? `is held here${where}` : `is not held here${where}`}${why}`));
  }

  // The kernel's own verdict on an IPv6 address.
  if (o.held?.addr.dadFailed) {
    children.push(leaf('dad', State.CRITICAL, `split brain: the duplicate address detection of the kernel failed for ${address} on ${o.held.iface.name} (another host on the link holds it)`));
  } else if (o.held?.addr.tentative) {
    children.push(leaf('dad', State.WARNING, `${address} on ${o.held.iface.name} is still tentative (duplicate address detection running)`));
  }
  if (o.held && !o.held.iface.up) {
    children.push(leaf('link', State.CRITICAL, `${address} is on ${o.held.iface.name}, which is down`));
  }

  // What the segment says.
  if (o.dad) {
    const n = o.dad.foreign.length;
    perf.push({ label: 'vip_other_hosts', value: n, min: 0 });
    if (held && n > 0) {
      children.push(leaf('segment', State.CRITICAL, `split brain: ${address} is held here and also answered by ${macs(o.dad)} on ${o.dad.iface}`));
    } else if (!held && n > 1) {
      children.push(leaf('segment', State.CRITICAL, `split brain: ${address} is answered by ${n} hosts (${macs(o.dad)}) on ${o.dad.iface}`));
    } else if (!held && n === 0) {
      children.push(leaf('segment', o.orphanState, `no host answers for ${address} on ${o.dad.iface}: the address is down everywhere`));
    } else if (!held) {
      children.push(leaf('segment', State.OK, `${address} is answered by ${macs(o.dad)} on ${o.dad.iface}`));
    } else {
      children.push(leaf('segment', State.OK, `no other host answers for ${address} on ${o.dad.iface}`));
    }
  } else if (o.dadSkipped) {
    children.push(leaf('segment', State.OK, `duplicate probe not run: ${o.dadSkipped}`));
  }

  if (o.port) {
    if (o.port.ok) {
      perf.push({ label: 'vip_port_time', value: Number((o.port.seconds ?? 0).toFixed(6)), uom: 's', min: 0 });
      children.push(leaf('port', State.OK, `${address} port ${o.port.port}/tcp accepts connections`));
    } else {
      children.push(leaf('port', State.CRITICAL, `${address} port ${o.port.port}/tcp: ${o.port.error ?? 'no connection'}`));
    }
  }

  const seg = o.dad ? (o.dad.foreign.length === 0 ? (held ? ', no other host answers' : '') : held ? '' : `, answered by ${macs(o.dad)}`) : '';
  const summary = `${address} ${held ? `held here${where}` : 'not held here'}${o.expectation.role === 'any' ? '' : ` (expected ${o.expectation.role})`}${seg}`;
  return group('', summary, children, perf);
}
