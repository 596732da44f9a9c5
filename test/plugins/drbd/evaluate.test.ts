import { describe, expect, it } from 'vitest';
import { parseThresholds, type Thresholds } from '../../../nagios/range.ts';
import { effectiveState, render, type CheckResult } from '../../../nagios/result.ts';
import { State } from '../../../nagios/states.ts';
import { evaluate, rolePerfdata, formatDuration, formatKiB, type DrbdCheckOptions } from '../../../plugins/drbd/evaluate.ts';
import { parseDrbd, type DrbdConnection, type DrbdDevice, type DrbdPeerDevice, type DrbdResource, type DrbdStatus } from '../../../plugins/drbd/parse.ts';
import { readFixture } from '../../support/paths.ts';

const fixture = (name: string): string => readFixture('drbd', name);

const NO_THRESHOLDS: Thresholds = {};
const opts = (o: Partial<DrbdCheckOptions> = {}): DrbdCheckOptions => ({ thresholds: NO_THRESHOLDS, unit: 'MiB', resources: [], ...o });

/** One resource r0, volume 0, peer nodeb, healthy unless overridden. */
function status(o: { resource?: Partial<DrbdResource>; device?: Partial<DrbdDevice>; connection?: Partial<DrbdConnection>; peerDevice?: Partial<DrbdPeerDevice> } = {}): DrbdStatus {
  const pd: DrbdPeerDevice = { volume: 0, replicationState: 'Established', peerDiskState: 'UpToDate', peerIntentionalDiskless: false, resyncSuspended: 'no', outOfSyncKiB: 0, percentInSync: 100, ...o.peerDevice };
  const c: DrbdConnection = { name: 'nodeb', connectionState: 'Connected', peerRole: 'Secondary', peerDevices: [pd], ...o.connection };
  const d: DrbdDevice = { volume: 0, minor: 0, diskState: 'UpToDate', intentionalDiskless: false, quorum: true, sizeKiB: 1048576, ...o.device };
  const r: DrbdResource = { name: 'r0', role: 'Primary', suspended: 'no', devices: [d], connections: [c], ...o.resource };
  return { format: 'status-json', resources: [r], unconfiguredMinors: [] };
}

function child(result: CheckResult, resource: string, name: string): CheckResult {
  const r = result.children?.find((c) => c.name === resource);
  const c = r?.children?.find((x) => x.name === name);
  if (!c) throw new Error(`no subcheck '${resource} ${name}' in ${JSON.stringify(result, null, 1)}`);
  return c;
}

const stateOf = (s: DrbdStatus, o: Partial<DrbdCheckOptions> = {}) => effectiveState(evaluate(s, opts(o)));

describe('connection states', () => {
  it('Connected is OK', () => {
    expect(stateOf(status())).toBe(State.OK);
  });

  it.each(['StandAlone', 'WFConnection', 'Connecting', 'Unconnected', 'WFReportParams', 'Timeout', 'BrokenPipe', 'NetworkFailure', 'ProtocolError', 'TearDown', 'Disconnecting'])(
    '%s is CRITICAL on the connection subcheck, and not counted twice on the peer device',
    (cs) => {
      const result = evaluate(status({ connection: { connectionState: cs, peerRole: 'Unknown' }, peerDevice: { replicationState: 'Off', peerDiskState: 'DUnknown' } }), opts());
      expect(child(result, 'r0', 'peer nodeb').state).toBe(State.CRITICAL);
      expect(child(result, 'r0', 'volume 0 peer nodeb').state).toBe(State.OK);
      expect(effectiveState(result)).toBe(State.CRITICAL);
    },
  );

  it('StandAlone is "split brain suspected"; sync-state SplitBrain makes it a split brain', () => {
    const suspected = evaluate(status({ connection: { connectionState: 'StandAlone' } }), opts());
    expect(child(suspected, 'r0', 'peer nodeb').summary).toMatch(/^StandAlone, split brain suspected/);
    const named = evaluate(status({ connection: { connectionState: 'StandAlone', syncState: 'SplitBrain' } }), opts());
    expect(child(named, 'r0', 'peer nodeb').summary).toMatch(/^split brain: /);
    const unrelated = evaluate(status({ connection: { connectionState: 'StandAlone', syncState: 'Unrelated' } }), opts());
    expect(child(unrelated, 'r0', 'peer nodeb').summary).toMatch(/unrelated data/);
  });

  it('an unknown connection state is UNKNOWN, not OK', () => {
    expect(stateOf(status({ connection: { connectionState: 'Frobnicating' } }))).toBe(State.UNKNOWN);
  });
});

describe('replication states', () => {
  it('a running resync is WARNING with progress and ETA', () => {
    const s = status({
      device: {},
      peerDevice: { replicationState: 'SyncSource', peerDiskState: 'Inconsistent', outOfSyncKiB: 1024, resync: { percentDone: 12.2, etaSeconds: 205, speedKiBps: 35704 } },
    });
    const pd = child(evaluate(s, opts()), 'r0', 'volume 0 peer nodeb');
    expect(pd.state).toBe(State.WARNING);
    expect(pd.summary).toBe('resync in progress (SyncSource): 12.2% done, ETA 3m25s, 34.9 MiB/s, peer disk Inconsistent (being resynced), 1.00 MiB out of sync');
  });

  it('on the resync target, the Inconsistent local disk is explained, not CRITICAL', () => {
    const s = status({ device: { diskState: 'Inconsistent' }, peerDevice: { replicationState: 'SyncTarget', outOfSyncKiB: 1024 } });
    const result = evaluate(s, opts());
    expect(child(result, 'r0', 'volume 0').state).toBe(State.OK);
    expect(child(result, 'r0', 'volume 0').summary).toBe('disk Inconsistent (being resynced from nodeb), /dev/drbd0');
    expect(effectiveState(result)).toBe(State.WARNING);
  });

  it.each(['StartingSyncS', 'StartingSyncT', 'WFBitMapS', 'WFBitMapT', 'WFSyncUUID'])('%s (resync starting) is WARNING', (rs) => {
    expect(stateOf(status({ peerDevice: { replicationState: rs } }))).toBe(State.WARNING);
  });

  it('a resync paused only by a resync-after dependency is WARNING; by the user, the peer or for no stated reason CRITICAL', () => {
    const paused = (why: string) => stateOf(status({ peerDevice: { replicationState: 'PausedSyncT', resyncSuspended: why } }));
    expect(paused('dependency')).toBe(State.WARNING);
    expect(paused('user')).toBe(State.CRITICAL);
    expect(paused('peer')).toBe(State.CRITICAL);
    expect(paused('user,dependency')).toBe(State.CRITICAL);
    expect(paused('no')).toBe(State.CRITICAL);
  });

  it('Ahead and Behind are WARNING; Outdated disks that go with them are explained', () => {
    expect(stateOf(status({ peerDevice: { replicationState: 'Ahead', peerDiskState: 'Outdated' } }))).toBe(State.WARNING);
    expect(stateOf(status({ device: { diskState: 'Outdated' }, peerDevice: { replicationState: 'Behind' } }))).toBe(State.WARNING);
  });

  it('online verify is OK', () => {
    expect(stateOf(status({ peerDevice: { replicationState: 'VerifyS', resync: { percentDone: 50 } } }))).toBe(State.OK);
  });

  it('replication Off on a live connection is CRITICAL (volume missing on the peer)', () => {
    expect(stateOf(status({ peerDevice: { replicationState: 'Off', peerDiskState: 'DUnknown' } }))).toBe(State.CRITICAL);
  });
});

describe('disk states', () => {
  it.each([
    ['Diskless', State.CRITICAL],
    ['Outdated', State.CRITICAL],
    ['Failed', State.CRITICAL],
    ['Inconsistent', State.CRITICAL],
    ['Consistent', State.WARNING],
    ['Attaching', State.WARNING],
    ['Detaching', State.WARNING],
    ['Negotiating', State.WARNING],
    ['DUnknown', State.UNKNOWN],
  ] as const)('local disk %s is %s', (ds, want) => {
    expect(stateOf(status({ device: { diskState: ds } }))).toBe(want);
  });

  it.each([
    ['Diskless', State.CRITICAL],
    ['Outdated', State.CRITICAL],
    ['Failed', State.CRITICAL],
    ['Inconsistent', State.CRITICAL],
    ['DUnknown', State.CRITICAL],
    ['Consistent', State.WARNING],
    ['Negotiating', State.WARNING],
  ] as const)('peer disk %s on a live connection is %s', (ds, want) => {
    expect(stateOf(status({ peerDevice: { peerDiskState: ds } }))).toBe(want);
  });

  it('intentional diskless clients are OK, on either side', () => {
    expect(stateOf(status({ device: { diskState: 'Diskless', intentionalDiskless: true } }))).toBe(State.OK);
    expect(stateOf(status({ peerDevice: { peerDiskState: 'Diskless', peerIntentionalDiskless: true } }))).toBe(State.OK);
  });

  it('lost quorum and suspended I/O are CRITICAL', () => {
    expect(stateOf(status({ device: { quorum: false } }))).toBe(State.CRITICAL);
    const result = evaluate(status({ resource: { suspended: 'fencing' } }), opts());
    expect(result.children?.[0]).toMatchObject({ state: State.CRITICAL, summary: 'I/O suspended (fencing)' });
  });
});

describe('out-of-sync thresholds', () => {
  const t = (w: string, c: string) => parseThresholds(w, c);
  const oos = (kib: number) => status({ peerDevice: { outOfSyncKiB: kib } });

  it('-w 5 -c 30 (MiB): 10 MiB is WARNING, 30 MiB OK-to-warn edge, 7 GiB CRITICAL', () => {
    expect(stateOf(oos(0), { thresholds: t('5', '30') })).toBe(State.OK);
    expect(stateOf(oos(5 * 1024), { thresholds: t('5', '30') })).toBe(State.OK);
    expect(stateOf(oos(10 * 1024), { thresholds: t('5', '30') })).toBe(State.WARNING);
    expect(stateOf(oos(30 * 1024), { thresholds: t('5', '30') })).toBe(State.WARNING);
    expect(stateOf(oos(30 * 1024 + 1), { thresholds: t('5', '30') })).toBe(State.CRITICAL);
    expect(stateOf(oos(7 * 1024 * 1024), { thresholds: t('5', '30') })).toBe(State.CRITICAL);
  });

  it('--unit changes what the numbers mean', () => {
    expect(stateOf(oos(10 * 1024), { thresholds: t('5', '30'), unit: 'GiB' })).toBe(State.OK);
    expect(stateOf(oos(10 * 1024), { thresholds: t('5000', '30000'), unit: 'KiB' })).toBe(State.WARNING);
    expect(stateOf(oos(2 * 1024 * 1024), { thresholds: t('1', '1.5'), unit: 'GiB' })).toBe(State.CRITICAL);
  });

  it('out-of-sync data counts on a disconnected peer too: it is the data at risk', () => {
    const s = status({ connection: { connectionState: 'WFConnection' }, peerDevice: { replicationState: 'Off', peerDiskState: 'DUnknown', outOfSyncKiB: 10 * 1024 } });
    expect(child(evaluate(s, opts({ thresholds: t('5', '30') })), 'r0', 'volume 0 peer nodeb').state).toBe(State.WARNING);
  });

  it('the message names the amount and the threshold', () => {
    const pd = child(evaluate(oos(10 * 1024), opts({ thresholds: t('5', '30') })), 'r0', 'volume 0 peer nodeb');
    expect(pd.summary).toBe('10.0 MiB out of sync (warning: above 5 MiB), replication Established, peer disk UpToDate');
  });

  it('perfdata is in bytes, with the thresholds converted to bytes', () => {
    const result = evaluate(oos(10 * 1024), opts({ thresholds: t('5', '@1:30'), unit: 'MiB' }));
    const pd = child(result, 'r0', 'volume 0 peer nodeb').perfdata!;
    expect(pd[0]).toMatchObject({ label: 'r0/0@nodeb_out_of_sync', value: 10 * 1024 * 1024, uom: 'B', min: 0, max: 1024 * 1024 * 1024 });
    expect(pd[0]!.warning).toMatchObject({ text: '5242880' });
    expect(pd[0]!.critical).toMatchObject({ text: '@1048576:31457280' });
    expect(pd[1]).toMatchObject({ label: 'r0/0@nodeb_in_sync', value: 100, uom: '%', min: 0, max: 100 });
  });

  it('an amount DRBD does not report (8.2.5 and older) is U, never 0', () => {
    const result = evaluate(oos(0), opts());
    expect(result).toBeDefined();
    const unknownAmount = evaluate(status({ peerDevice: { outOfSyncKiB: undefined, percentInSync: undefined } }), opts({ thresholds: t('5', '30') }));
    const pd = child(unknownAmount, 'r0', 'volume 0 peer nodeb');
    expect(pd.state).toBe(State.OK);
    expect(pd.perfdata?.[0]?.value).toBe('U');
    expect(pd.summary).toMatch(/not reported/);
  });
});

describe('roles and resource selection', () => {
  it('--role: another role is CRITICAL', () => {
    expect(stateOf(status(), { role: 'Primary' })).toBe(State.OK);
    const result = evaluate(status(), opts({ role: 'Secondary' }));
    expect(render(result, { prefix: 'DRBD' }).text.split('\n')[0]).toBe('DRBD CRITICAL - r0: role Primary, expected Secondary | r0_primary=1;;;0;1 r0@nodeb_peer_primary=0;;;0;1 r0/0@nodeb_out_of_sync=0B;;;0;1073741824 r0/0@nodeb_in_sync=100%;;;0;100');
  });

  it('--resource picks resources; a missing one is CRITICAL', () => {
    const s = parseDrbd(fixture('status-9-multi-volume-multi-peer.json'));
    expect(evaluate(s, opts({ resources: ['r1'] })).children?.map((c) => c.name)).toEqual(['r1']);
    const missing = evaluate(s, opts({ resources: ['r1', 'r9'] }));
    expect(missing.children?.map((c) => [c.name, c.state])).toEqual([['r1', State.OK], ['r9', State.CRITICAL]]);
  });

  it('on /proc/drbd a resource is a minor: 0, drbd0 and /dev/drbd0 all select it', () => {
    const s = parseDrbd(fixture('proc-8.4-healthy.txt'));
    for (const sel of ['1', 'drbd1', '/dev/drbd1']) expect(evaluate(s, opts({ resources: [sel] })).children?.map((c) => c.name)).toEqual(['drbd1']);
  });

  it('no resources at all is UNKNOWN; an expected one missing is CRITICAL', () => {
    const none = parseDrbd(fixture('status-9-no-resources.json'));
    expect(stateOf(none)).toBe(State.UNKNOWN);
    expect(stateOf(none, { resources: ['r0'] })).toBe(State.CRITICAL);
  });

  it('resources without volumes or peers are WARNING', () => {
    expect(stateOf(status({ resource: { devices: [], connections: [] } }))).toBe(State.WARNING);
  });
});

describe('formatting', () => {
  it('sizes and durations', () => {
    expect([0, 512, 1024, 10 * 1024, 7 * 1024 * 1024, 813660, 1536].map(formatKiB)).toEqual(['0 B', '512 KiB', '1.00 MiB', '10.0 MiB', '7.00 GiB', '795 MiB', '1.50 MiB']);
    expect([45, 205, 3700].map(formatDuration)).toEqual(['45s', '3m25s', '1h01m40s']);
  });
});

/** The role gauges by label, as a cluster rule reads them: label -> value, absent when left out. */
function roles(result: CheckResult): Record<string, number | 'U'> {
  const out: Record<string, number | 'U'> = {};
  for (const p of result.perfdata ?? []) if (/_(peer_)?primary$/.test(p.label)) out[p.label] = p.value;
  return out;
}

describe('roles in perfdata (what a cluster rule sums)', () => {
  it('9.x resync fixture: this node Primary (SyncSource), the peer Secondary', () => {
    expect(roles(evaluate(parseDrbd(fixture('status-9-resync-7GiB.json')), opts()))).toEqual({ r0_primary: 1, 'r0@nodeb_peer_primary': 0 });
  });

  it('8.4 resync fixture: the 8.x peer is named peer', () => {
    const r = roles(evaluate(parseDrbd(fixture('proc-8.4-resync-7GiB.txt')), opts()));
    expect(r).toEqual({ drbd0_primary: 1, 'drbd0@peer_peer_primary': 0 });
  });

  it('8.4 fixture with a Secondary resource whose peer is Primary', () => {
    const r = roles(evaluate(parseDrbd(fixture('proc-8.4-healthy.txt')), opts()));
    expect(r).toEqual({ drbd0_primary: 1, 'drbd0@peer_peer_primary': 0, drbd1_primary: 0, 'drbd1@peer_peer_primary': 1 });
  });

  it('one item per resource, not per volume; one per known peer', () => {
    const r = roles(evaluate(parseDrbd(fixture('status-9-multi-volume-multi-peer.json')), opts()));
    expect(r).toEqual({ r0_primary: 1, 'r0@nodeb_peer_primary': 0, 'r0@nodec_peer_primary': 0, r1_primary: 0, 'r1@nodeb_peer_primary': 1, 'r1@nodec_peer_primary': 0 });
  });

  it('a disconnected peer (role Unknown) is left out, never U or 0', () => {
    const s = status({ connection: { connectionState: 'Connecting', peerRole: 'Unknown' }, peerDevice: { replicationState: 'Off', peerDiskState: 'DUnknown' } });
    expect(rolePerfdata(s.resources)).toEqual([{ label: 'r0_primary', value: 1, min: 0, max: 1 }]);
    const standalone = roles(evaluate(parseDrbd(fixture('proc-8.4-standalone.txt')), opts()));
    expect(Object.keys(standalone).some((l) => l.includes('peer_primary'))).toBe(false);
  });

  it('both Primary (dual-primary or split brain) shows as 1 and 1', () => {
    expect(roles(evaluate(status({ connection: { peerRole: 'Primary' } }), opts()))).toEqual({ r0_primary: 1, 'r0@nodeb_peer_primary': 1 });
  });

  it('only the selected resources (--resource)', () => {
    const r = roles(evaluate(parseDrbd(fixture('proc-8.4-healthy.txt')), opts({ resources: ['drbd1'] })));
    expect(r).toEqual({ drbd1_primary: 0, 'drbd1@peer_peer_primary': 1 });
  });

  it('40 resources: every role item survives the 8 KiB shortening', () => {
    const result = evaluate(parseDrbd(fixture('status-9-40-resources.json')), opts());
    const text = render(result, { prefix: 'DRBD' }).text;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(8192);
    expect(text).toContain('output shortened');
    const perf = text.split('\n')[0]!.split(' | ')[1] ?? '';
    const want = rolePerfdata(parseDrbd(fixture('status-9-40-resources.json')).resources);
    expect(want.length).toBeGreaterThanOrEqual(40);
    for (const p of want) expect(perf).toContain(`${p.label}=${p.value};`);
  });
});
