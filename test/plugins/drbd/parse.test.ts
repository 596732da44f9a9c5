import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectFormat, DrbdParseError, parseDrbd, parseEvents2, parseProcDrbd, parseStatusJson, type DrbdStatus } from '../../../plugins/drbd/parse.ts';
import { FIXTURES, fixture } from './helpers.ts';

const parse = (name: string): DrbdStatus => parseDrbd(fixture(name));
const only = (s: DrbdStatus) => {
  expect(s.resources).toHaveLength(1);
  const r = s.resources[0]!;
  return { r, d: r.devices[0]!, c: r.connections[0]!, pd: r.connections[0]!.peerDevices[0]! };
};

describe('format detection', () => {
  it.each([
    ['proc-8.4-healthy.txt', 'proc'],
    ['proc-8.3-healthy.txt', 'proc'],
    ['proc-8.2-st.txt', 'proc'],
    ['proc-9.2-version-only.txt', 'proc'],
    ['status-9-healthy.json', 'status-json'],
    ['status-9-no-resources.json', 'status-json'],
    ['events2-9-healthy.txt', 'events2'],
    ['events2-9-no-resources.txt', 'events2'],
  ])('%s is %s', (name, format) => {
    expect(detectFormat(fixture(name))).toBe(format);
  });

  it('rejects empty input and garbage with a clear message', () => {
    expect(() => detectFormat('')).toThrow(/empty/);
    expect(() => detectFormat(' \n\n')).toThrow(/empty/);
    expect(() => detectFormat('hello world\nthis is not drbd\n')).toThrow(/not DRBD status/);
  });

  it('timestamps in front of events2 lines are accepted', () => {
    const text = fixture('events2-9-healthy.txt').split('\n').map((l) => (l ? `2024-03-01T08:49:26.123456+01:00 ${l}` : l)).join('\n');
    expect(detectFormat(text)).toBe('events2');
    expect(parseEvents2(text)).toEqual(parse('events2-9-healthy.txt'));
  });
});

describe('every fixture parses', () => {
  const names = readdirSync(FIXTURES).filter((n) => !n.endsWith('.md'));
  it.each(names.filter((n) => n !== 'proc-9.2-version-only.txt'))('%s', (name) => {
    const s = parse(name);
    for (const r of s.resources) {
      expect(r.name).not.toBe('');
      for (const c of r.connections) for (const pd of c.peerDevices) expect(r.devices.some((d) => d.volume === pd.volume)).toBe(true);
    }
  });
});

describe('/proc/drbd', () => {
  it('8.4 healthy: two minors, all counters in KiB', () => {
    const s = parse('proc-8.4-healthy.txt');
    expect(s.format).toBe('proc');
    expect(s.version).toBe('8.4.11');
    expect(s.resources.map((r) => [r.name, r.minor, r.role])).toEqual([['drbd0', 0, 'Primary'], ['drbd1', 1, 'Secondary']]);
    const r0 = s.resources[0]!;
    expect(r0.devices[0]).toMatchObject({ volume: 0, minor: 0, diskState: 'UpToDate', writtenKiB: 10503452, readKiB: 2106721 });
    expect(r0.connections[0]!.name).toBeUndefined();
    expect(r0.connections[0]).toMatchObject({ connectionState: 'Connected', peerRole: 'Secondary' });
    expect(r0.connections[0]!.peerDevices[0]).toMatchObject({ replicationState: 'Connected', peerDiskState: 'UpToDate', outOfSyncKiB: 0, sentKiB: 10503440, receivedKiB: 0, percentInSync: 100, resyncSuspended: 'no' });
    expect(r0.suspended).toBe('no');
  });

  it('8.4 resync: progress, ETA and speed from the progress lines', () => {
    const { pd } = only(parse('proc-8.4-resync-7GiB.txt'));
    expect(pd.replicationState).toBe('SyncSource');
    expect(pd.peerDiskState).toBe('Inconsistent');
    expect(pd.outOfSyncKiB).toBe(7 * 1024 * 1024);
    expect(pd.resync).toEqual({ percentDone: 12.5, etaSeconds: 205, speedKiBps: 35704 });
  });

  it('8.4 paused resyncs keep why they are paused (flags a, p, u)', () => {
    const s = parse('proc-8.4-synctarget-paused-dependency.txt');
    expect(s.resources[0]!.connections[0]!.peerDevices[0]!.resync).toEqual({ percentDone: 40.1, etaSeconds: 61, speedKiBps: 51200 });
    expect(s.resources[1]!.connections[0]!.peerDevices[0]).toMatchObject({ replicationState: 'PausedSyncT', resyncSuspended: 'dependency', resync: undefined });
    expect(only(parse('proc-8.4-paused-by-user.txt')).pd.resyncSuspended).toBe('user');
  });

  it('8.4 StandAlone without a protocol letter; disconnected states become the connection state', () => {
    const { c, pd } = only(parse('proc-8.4-standalone.txt'));
    expect(c.connectionState).toBe('StandAlone');
    expect(c.peerRole).toBe('Unknown');
    expect(pd).toMatchObject({ replicationState: 'Off', peerDiskState: 'DUnknown', outOfSyncKiB: 8192 });
    const wf = parse('proc-8.4-wfconnection.txt');
    expect(wf.resources.map((r) => r.connections[0]!.connectionState)).toEqual(['WFConnection', 'WFConnection']);
    expect(wf.resources[1]!.devices[0]!.diskState).toBe('Outdated');
  });

  it('8.4 suspended I/O flag', () => {
    expect(only(parse('proc-8.4-failed.txt')).r.suspended).toBe('yes');
  });

  it('8.4 unconfigured minors are listed apart, not as resources', () => {
    const s = parse('proc-8.4-unconfigured-minors.txt');
    expect(s.resources.map((r) => r.name)).toEqual(['drbd0']);
    expect(s.unconfiguredMinors).toEqual([1, 5]);
    expect(parse('proc-8.4-only-unconfigured.txt')).toMatchObject({ resources: [], unconfiguredMinors: [0, 1] });
    expect(parse('proc-8.4-no-resources.txt')).toMatchObject({ resources: [], unconfiguredMinors: [] });
  });

  it('8.3: ro:, five flags, wo:b, extra progress fields and a stalled resync', () => {
    const s = parse('proc-8.3-healthy.txt');
    expect(s.version).toBe('8.3.16');
    expect(s.resources.map((r) => [r.name, r.role, r.devices[0]!.diskState, r.connections[0]!.peerDevices[0]!.outOfSyncKiB])).toEqual([
      ['drbd0', 'Primary', 'UpToDate', 0],
      ['drbd1', 'Primary', 'UpToDate', 0],
    ]);
    expect(only(parse('proc-8.3-resync.txt')).pd).toMatchObject({
      replicationState: 'SyncTarget',
      outOfSyncKiB: 813660,
      resync: { percentDone: 20.8, etaSeconds: 90, speedKiBps: 8976 },
    });
    expect(only(parse('proc-8.3-stalled.txt')).pd.resync).toEqual({ percentDone: 0.1, stalled: true });
  });

  it('8.2: st: instead of ro:, no oos counter (so the amount is unknown, not 0)', () => {
    const { r, pd } = only(parse('proc-8.2-st.txt'));
    expect(r.role).toBe('Secondary');
    expect(pd.peerDiskState).toBe('UpToDate');
    expect(pd.outOfSyncKiB).toBeUndefined();
  });

  it('DRBD 9 /proc/drbd (version only) is refused with a pointer to drbdsetup', () => {
    expect(() => parse('proc-9.2-version-only.txt')).toThrow(/drbdsetup status --json/);
  });

  it('truncated text is an error, not a half result', () => {
    const full = fixture('proc-8.4-healthy.txt');
    const cutInMinorLine = full.slice(0, full.indexOf('ro:Primary') + 6);
    expect(() => parseProcDrbd(cutInMinorLine)).toThrow(/truncated/);
    const cutBeforeCounters = full.split('\n').slice(0, 3).join('\n');
    expect(() => parseProcDrbd(cutBeforeCounters)).toThrow(/truncated/);
    const cutInCounters = full.slice(0, full.indexOf('dw:10503452') + 3);
    expect(() => parseProcDrbd(cutInCounters)).toThrow(/truncated/);
    const cutBeforeOos = full.slice(0, full.indexOf(' oos:0'));
    expect(() => parseProcDrbd(cutBeforeOos.split('\n').slice(0, 4).join('\n'))).toThrow(/oos/);
  });

  it('an unindented line after the minors is an error', () => {
    expect(() => parseProcDrbd(fixture('proc-8.4-healthy.txt') + 'garbage here\n')).toThrow(/line 7 is not understood/);
  });
});

describe('drbdsetup status --json', () => {
  it('healthy: names, roles, KiB sizes, percent in sync', () => {
    const { r, d, c, pd } = only(parse('status-9-healthy.json'));
    expect(r).toMatchObject({ name: 'r0', role: 'Primary', suspended: 'no' });
    expect(d).toMatchObject({ volume: 0, minor: 0, diskState: 'UpToDate', intentionalDiskless: false, quorum: true, sizeKiB: 8388316 });
    expect(c).toMatchObject({ name: 'nodeb', peerNodeId: 1, connectionState: 'Connected', peerRole: 'Secondary' });
    expect(pd).toMatchObject({ volume: 0, replicationState: 'Established', peerDiskState: 'UpToDate', outOfSyncKiB: 0, percentInSync: 100, resync: undefined });
  });

  it('resync: sync details give progress, ETA and speed', () => {
    const { pd } = only(parse('status-9-resync-7GiB.json'));
    expect(pd.outOfSyncKiB).toBe(7340032);
    expect(pd.percentInSync).toBe(12.5);
    expect(pd.resync?.percentDone).toBe(12.5);
    expect(pd.resync?.etaSeconds).toBe(206);
    expect(pd.resync?.speedKiBps).toBeCloseTo(34.86 * 1024, 5);
  });

  it('suspension reasons and intentional diskless clients', () => {
    expect(only(parse('status-9-failed.json')).r.suspended).toBe('no-data');
    expect(only(parse('status-9-quorum-lost.json')).d.quorum).toBe(false);
    const s = parse('status-9-diskless.json');
    expect(s.resources.map((r) => [r.name, r.devices[0]!.diskState, r.devices[0]!.intentionalDiskless])).toEqual([
      ['r0', 'Diskless', true],
      ['r1', 'Diskless', false],
    ]);
  });

  it('multi-volume, multi-peer', () => {
    const s = parse('status-9-multi-volume-multi-peer.json');
    expect(s.resources.map((r) => r.name)).toEqual(['r0', 'r1']);
    const r0 = s.resources[0]!;
    expect(r0.devices.map((d) => [d.volume, d.minor])).toEqual([[0, 0], [1, 1]]);
    expect(r0.connections.map((c) => [c.name, c.peerDevices.length])).toEqual([['nodeb', 2], ['nodec', 2]]);
  });

  it('no resources is an empty list', () => {
    expect(parse('status-9-no-resources.json').resources).toEqual([]);
  });

  it('garbage, truncation and wrong shapes are errors', () => {
    const full = fixture('status-9-healthy.json');
    expect(() => parseStatusJson(full.slice(0, 300))).toThrow(/not valid JSON/);
    expect(() => parseStatusJson('{"name": "r0"}')).toThrow(/list of resources/);
    expect(() => parseStatusJson('[{"role": "Primary"}]')).toThrow(/resource 1 has no string 'name'/);
    expect(() => parseStatusJson('[{"name": "r0", "role": "Primary", "devices": [{"volume": 0}]}]')).toThrow(/disk-state/);
    expect(() => parseStatusJson('[{"name": "r0", "role": "Primary", "devices": 3}]')).toThrow(/not a list/);
  });
});

describe('drbdsetup events2 --now --statistics', () => {
  it('healthy equals the status JSON of the same state, bar what only one of them reports', () => {
    const e = parse('events2-9-healthy.txt');
    const j = parse('status-9-healthy.json');
    expect(e.format).toBe('events2');
    const strip = (s: DrbdStatus) => s.resources.map((r) => ({ ...r, connections: r.connections.map((c) => ({ ...c, syncState: undefined })) }));
    expect(strip(e)).toEqual(strip(j));
  });

  it('resync: done, eta and dbdt1', () => {
    const { pd } = only(parse('events2-9-resync-7GiB.txt'));
    expect(pd).toMatchObject({ replicationState: 'SyncSource', peerDiskState: 'Inconsistent', outOfSyncKiB: 7340032 });
    expect(pd.resync).toEqual({ percentDone: 12.5, etaSeconds: 206, speedKiBps: 34.86 * 1024 });
  });

  it('split brain named by newer drbd-utils (sync-state:SplitBrain)', () => {
    expect(only(parse('events2-9-split-brain.txt')).c).toMatchObject({ connectionState: 'StandAlone', syncState: 'SplitBrain' });
    expect(only(parse('events2-9-standalone.txt')).c.syncState).toBeUndefined();
  });

  it('multi-peer, multi-volume, two resources', () => {
    const s = parse('events2-9-multi-peer.txt');
    expect(s.resources.map((r) => [r.name, r.role, r.devices.length, r.connections.map((c) => `${c.name}:${c.connectionState}`)])).toEqual([
      ['r0', 'Primary', 2, ['nodeb:Connected', 'nodec:Connecting']],
      ['r1', 'Secondary', 1, ['nodeb:Connected', 'nodec:Connected']],
    ]);
    expect(s.resources[0]!.connections[1]!.peerDevices.map((pd) => pd.outOfSyncKiB)).toEqual([4096, 1024]);
  });

  it('change and destroy events are applied on top of the initial state', () => {
    const text = fixture('events2-9-healthy.txt') +
      'change peer-device name:r0 peer-node-id:1 conn-name:nodeb volume:0 replication:SyncSource peer-disk:Inconsistent\n' +
      'change connection name:r0 peer-node-id:1 conn-name:nodeb role:Primary\n';
    const { c, pd } = only(parseEvents2(text));
    expect(c.peerRole).toBe('Primary');
    expect(pd).toMatchObject({ replicationState: 'SyncSource', peerDiskState: 'Inconsistent', outOfSyncKiB: 0 });
    expect(parseEvents2(`${fixture('events2-9-healthy.txt')}destroy resource name:r0\n`).resources).toEqual([]);
  });

  it("output cut before 'exists -' is truncated", () => {
    const full = fixture('events2-9-healthy.txt');
    expect(() => parseEvents2(full.replace('exists -\n', ''))).toThrow(/truncated/);
    expect(() => parseEvents2(full.slice(0, full.indexOf('out-of-sync:') + 12))).toThrow(/truncated|not key:value|not a number/);
  });

  it('lines that are not events, and objects before their resource, are errors', () => {
    expect(() => parseEvents2('exists resource name:r0 role:Primary\nhello\nexists -\n')).toThrow(/line 2 is not an event/);
    expect(() => parseEvents2('exists device name:r0 volume:0 minor:0 disk:UpToDate\nexists -\n')).toThrow(/before the resource/);
    expect(() => parseEvents2('exists resource name:r0 role:Primary\nexists device name:r0 minor:0 disk:UpToDate\nexists -\n')).toThrow(/no 'volume:'/);
  });

  it('parse errors are DrbdParseError', () => {
    expect(() => parseDrbd('garbage')).toThrow(DrbdParseError);
  });
});
