// Issue 10 item 9: an SMS body is GSM-7 and fits in one message (160 septets, extension
// characters count two) unless notifications.sms.max_parts allows more. The counts are
// checked against Twilio's segment calculator (sms-segments-calculator, devDependency) as an
// independent oracle, and the channel test reads the bodies the real channels delivered:
// the smstools spool file and what a local HTTP SMS provider received.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { SegmentedMessage } from 'sms-segments-calculator';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { digestSms, smsText } from '../../server/notify/message.ts';
import { composeSms, gsmSeptets, smsBudget, smsParts, toGsm7 } from '../../server/notify/sms.ts';
import { FakeClock } from '../../server/state/clock.ts';
import type { NotificationIntent } from '../../server/state/types.ts';
import { freePort } from '../support/ports.ts';
import { FakeExecutors, settle } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'hawatch-sms-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const note = (over: Partial<NotificationIntent> = {}): NotificationIntent => ({
  type: 'PROBLEM', key: 'db1/drbd', kind: 'service', hostName: 'db1', serviceName: 'drbd', state: 2, stateName: 'CRITICAL',
  output: 'DRBD CRITICAL - r0 StandAlone', at: Date.UTC(2025, 0, 6, 12, 0, 0), number: 1, ...over,
});

/** What a carrier would make of the body (Twilio's calculator). */
const oracle = (s: string) => {
  const m = new SegmentedMessage(s, 'auto');
  return { encoding: m.encodingName, segments: m.segmentsCount, septets: m.numberOfCharacters };
};

describe('GSM-7 counting and transliteration', () => {
  it('counts extension characters double, like the carrier', () => {
    expect(gsmSeptets('abc')).toBe(3);
    expect(gsmSeptets('5 €')).toBe(4);
    expect(gsmSeptets('[a]|{b}~^\\')).toBe(18); // 8 extension characters
    expect(gsmSeptets('é')).toBe(1); // in the GSM alphabet itself
    expect(gsmSeptets('á')).toBeNull(); // not: the carrier would switch to UCS-2
    for (const s of ['5 €', '[a]|{b}~^\\', 'Größe ÄÖÜ ß', 'x'.repeat(160), '{'.repeat(80), '{'.repeat(81)]) {
      const o = oracle(s);
      expect(o.encoding).toBe('GSM-7');
      expect(smsParts(s)).toMatchObject({ encoding: 'GSM-7', units: o.septets, parts: o.segments });
    }
    expect(smsParts('hé 😀').encoding).toBe('UCS-2');
    expect(oracle('hé 😀').encoding).toBe('UCS-2');
  });

  it('transliterates accents, quotes, Greek and Cyrillic; drops emoji', () => {
    expect(toGsm7('Café á ç ő Łódź')).toBe('Café a c o Lodz'); // é stays: GSM-7 has it
    expect(toGsm7('Größe Ärger Ñandú')).toBe('Größe Ärger Ñandu');
    expect(toGsm7('‘quoted’ “double” – dash … ≥ 5 °C µs')).toBe(`'quoted' "double" - dash ... >= 5 degC us`);
    expect(toGsm7('disk full 🔥🔥 👍🏽 🇩🇪 ok')).toBe('disk full    ok');
    expect(toGsm7('Ошибка диска')).toBe('Oshibka diska');
    expect(toGsm7('Σφάλμα')).toBe('ΣΦAΛMA');
    expect(toGsm7('ﬁle ２ x²')).toBe('file 2 x2');
    expect(toGsm7('漢字')).toBe('??');
  });

  it('any text at all becomes GSM-7 that the carrier sends in one part (property, Twilio oracle)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 60 }), (output, service) => {
        const body = smsText(note({ output, serviceName: service || 'svc' }), 160);
        const o = oracle(body);
        expect(o.encoding).toBe('GSM-7');
        expect(o.segments).toBe(1);
        expect(gsmSeptets(body)).toBe(o.septets);
        expect(o.septets).toBeLessThanOrEqual(160);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the SMS formatter', () => {
  it('state, host and service first, then the first words of the output', () => {
    const output = 'DRBD CRITICAL - r0 StandAlone, peer disconnected since 45 minutes and the resync target is unknown, the split brain handler has not run yet and so on until this is far too long';
    const body = smsText(note({ output }), 160);
    expect(body.startsWith('CRITICAL db1/drbd: DRBD CRITICAL - r0 StandAlone, peer disconnected')).toBe(true);
    expect(body.endsWith('..')).toBe(true);
    expect(output).toContain(`${body.slice('CRITICAL db1/drbd: '.length, -2)} `); // cut at a word boundary, not inside a word
    expect(gsmSeptets(body)).toBeLessThanOrEqual(160);
  });

  it('accents and emoji in the output leave a GSM-7 body of 160 characters, not a 70-character UCS-2 one', () => {
    const body = smsText(note({ output: 'Réplication arrêtée 😱 sur le nœud secondaire: délai 45 s, ‘primary’ injoignable – vérifier la liaison réseau et le disque de données du nœud maître avant tout' }), 160);
    expect(oracle(body)).toMatchObject({ encoding: 'GSM-7', segments: 1 });
    expect(body).toContain('Réplication arretée sur le noeud secondaire'); // é is GSM-7, ê is not
    expect(gsmSeptets(body)).toBeGreaterThan(140); // the room is used, not cut at 70
  });

  it('extension characters count double in the limit', () => {
    const body = smsText(note({ output: '€'.repeat(200) }), 160);
    expect(gsmSeptets(body)).toBeLessThanOrEqual(160);
    expect(body.length).toBeLessThan(100); // about 70 euro signs, each two septets
    expect(oracle(body)).toMatchObject({ encoding: 'GSM-7', segments: 1 });
  });

  it('long names: the state always, then host, then some of the service', () => {
    const body = composeSms({ head: 'CRITICAL', host: 'h'.repeat(200), service: 's'.repeat(120), note: null, output: 'x' }, 160);
    expect(gsmSeptets(body)).toBeLessThanOrEqual(160);
    expect(body).toMatch(/^CRITICAL h+\.\.\/s{4,}\.\.$/);
    expect(smsText(note({ type: 'ACKNOWLEDGEMENT', author: 'Zoë', comment: 'je m’en occupe', output: 'r0 StandAlone' }), 160)).toBe('ACKNOWLEDGEMENT CRITICAL db1/drbd: Zoe je men occupe: r0 StandAlone'); // no quote in an SMS (issue 10 item 10)
    expect(smsText(note({ type: 'RECOVERY', state: 0, stateName: 'OK', output: 'DRBD OK' }), 160)).toBe('RECOVERY OK db1/drbd: DRBD OK');
  });

  it('a digest stays within the limit in septets', () => {
    const burst = Array.from({ length: 40 }, (_, i) => note({ hostName: `wéb€${i}`, key: `web${i}/http`, serviceName: 'http' }));
    const text = digestSms(burst, 160);
    expect(gsmSeptets(text)).toBeLessThanOrEqual(160);
    expect(text).toMatch(/^hawatch 40 PROBLEM: wéb€0\/http CRITICAL, .* \(\+\d+ more\)$/);
  });

  it('never splits unless max_parts allows it', () => {
    expect(smsBudget(160, 1)).toBe(160);
    expect(smsBudget(1000, 1)).toBe(160);
    expect(smsBudget(1000, 3)).toBe(459);
    const inv = loadInventory('notifications:\n  sms: { smstools: { spool_dir: /tmp }, max_length: 400 }\nhosts: { a: {} }\n', 't.yaml');
    expect(inv.notifier.smsMaxParts).toBe(1);
    expect(inv.warnings.join('\n')).toMatch(/t\.yaml:2:53: notifications\.sms\.max_length: 400 characters do not fit in 1 SMS \(160 GSM characters\)/);
    const three = loadInventory('notifications:\n  sms: { smstools: { spool_dir: /tmp }, max_parts: 3 }\nhosts: { a: {} }\n', 't.yaml');
    expect(three.notifier).toMatchObject({ smsMaxParts: 3, smsMaxLength: 459 });
    const long = smsText(note({ output: 'word '.repeat(200) }), smsBudget(three.notifier.smsMaxLength, 3));
    expect(oracle(long).segments).toBe(3);
  });
});

describe('SMS channels deliver bodies within the limit', () => {
  it('smstools spool and HTTP provider each get one GSM-7 body of at most 160 characters', async () => {
    const spool = join(dir, 'outgoing');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(spool);
    const received: string[] = [];
    const http: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text: string }).text);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    const port = await freePort();
    await new Promise<void>((r) => http.listen(port, '127.0.0.1', r));
    const clock = new FakeClock();
    const fx = new FakeExecutors();
    const rt = await createRuntime({
      inventory: loadInventory(`
defaults: { check_interval: 1h, max_check_attempts: 1, notification_interval: 0 }
notifications:
  sms:
    http: { url: "http://127.0.0.1:${port}/send", body: '{"to": {{number}}, "text": {{message}}}' }
    smstools: { spool_dir: ${spool} }
  group_window: 0s
contacts:
  ann: { sms: "+49 151 1111111", sms_via: http }
  bob: { sms: "+49 151 2222222", sms_via: smstools }
hosts:
  noeud-1: { address: 127.0.0.1, contacts: [ann, bob] }
services:
  - { name: replication, host: noeud-1, command: check_repl }
`),
      executorFactory: fx.factory,
      database: ':memory:',
      clock,
      dispatchPollMs: 500,
    });
    try {
      fx.set('noeud-1 check_repl', 2, `REPLICATION CRITICAL - Réplication arrêtée 😱 depuis 45 min, retard 1200 s, « primary » injoignable, coût estimé 5 € par minute, vérifier {eth1} et [drbd0] | lag=1200s;60;300`);
      await rt.scheduler.recheck('noeud-1/replication');
      for (let i = 0; i < 5 && (received.length < 1 || readdirSync(spool).length < 1); i++) {
        clock.advance(1000);
        await settle();
        await rt.dispatcher.flush();
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(received).toHaveLength(1);
      const files = readdirSync(spool);
      expect(files).toHaveLength(1);
      const spooled = readFileSync(join(spool, files[0] as string), 'utf8').split('\n\n')[1]?.replace(/\n$/, '') ?? '';
      for (const body of [received[0] as string, spooled]) {
        expect(body.startsWith('CRITICAL noeud-1/replication: REPLICATION CRITICAL - Réplication arretée depuis 45 min')).toBe(true);
        expect(oracle(body)).toMatchObject({ encoding: 'GSM-7', segments: 1 });
        expect(gsmSeptets(body)).toBeLessThanOrEqual(160);
      }
    } finally {
      await rt.stop();
      await new Promise((r) => http.close(r));
    }
  });
});
