/**
 * Hostile and broken clients: malformed packets, wrong CRC, oversized lengths, slow clients,
 * floods, and fuzzing. The agent must never crash, never answer garbage, and keep serving.
 */
import { Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, packetCrc, PacketType, type NrpeVersion } from '../../nagios/nrpe.ts';
import { checkNrpe, cleanup, rawExchange, startAgent, type Daemon } from './helpers.ts';

let plain: Daemon;
let tls: Daemon;

beforeAll(async () => {
  const config = ['allowed_hosts=127.0.0.1', 'dont_blame_nrpe=1', 'connection_timeout=2', 'command_timeout=5', 'command[hello]=/bin/echo hello', 'command[echoarg]=/bin/echo $ARG1$'].join('\n');
  plain = await startAgent({ config, plain: true });
  tls = await startAgent({ config });
});
afterAll(cleanup);

const query = (version: NrpeVersion, text: string): Buffer => encodePacket({ version, type: PacketType.QUERY, text });
const withCrc = (p: Buffer): Buffer => {
  p.writeUInt32BE(packetCrc(p), 4);
  return p;
};

async function stillServes(): Promise<void> {
  const r = await rawExchange(plain.port, query(4, 'hello'));
  expect(decodePacket(r.reply)).toMatchObject({ version: 4, type: PacketType.RESPONSE, resultCode: 0, text: 'hello' });
  expect(await checkNrpe(tls.port, ['-c', 'hello'])).toMatchObject({ code: 0, stdout: 'hello\n' });
}

/** What check_nrpe would accept: a response in the version it asked in, valid CRC and length. */
function assertSaneReply(request: Buffer, reply: Buffer): void {
  if (reply.length === 0) return;
  const asked = request.readInt16BE(0);
  const d = decodePacket(reply);
  expect(d.version).toBe(asked);
  expect(d.type).toBe(PacketType.RESPONSE);
  expect(d.resultCode).toBeGreaterThanOrEqual(0);
  expect(d.resultCode).toBeLessThanOrEqual(3);
}

describe('malformed packets get no answer and leave the agent serving', () => {
  it('answers a raw v2, v3 and v4 query in its own version', async () => {
    for (const v of [2, 3, 4] as const) {
      const r = await rawExchange(plain.port, query(v, 'hello'));
      expect(decodePacket(r.reply), `v${v}`).toMatchObject({ version: v, type: PacketType.RESPONSE, resultCode: 0, text: 'hello' });
      expect(r.reply.length).toBe(v === 2 ? 1036 : v === 3 ? 19 + 6 : 16 + 6);
    }
  });

  it('closes on a wrong CRC, wrong type, bad version, missing NUL, empty query', async () => {
    const badCrc = query(4, 'hello');
    badCrc.writeUInt32BE((badCrc.readUInt32BE(4) ^ 0xffff) >>> 0, 4);
    const badType = encodePacket({ version: 4, type: PacketType.RESPONSE, text: 'hello' });
    const v5 = query(4, 'hello');
    v5.writeInt16BE(5, 0);
    withCrc(v5);
    const noNul = Buffer.alloc(16 + 5);
    noNul.writeInt16BE(4, 0);
    noNul.writeInt16BE(1, 2);
    noNul.writeInt32BE(5, 12);
    noNul.write('hello', 16);
    withCrc(noNul);
    const empty = query(4, '');
    for (const [name, p] of Object.entries({ badCrc, badType, v5, noNul, empty })) {
      const r = await rawExchange(plain.port, p);
      expect(r.reply.length, name).toBe(0);
      expect(r.closed, name).toBe(true);
      expect(r.ms, name).toBeLessThan(1500);
    }
    expect(plain.output()).toMatch(/CRC mismatch/);
    expect(plain.output()).toMatch(/packet type 2 is not a query/);
    expect(plain.output()).toMatch(/unsupported packet version 5/);
    expect(plain.output()).toMatch(/not NUL terminated/);
    expect(plain.output()).toMatch(/empty query/);
    await stillServes();
  });

  it('closes at once on impossible lengths and on more bytes than announced', async () => {
    for (const len of [0, -1, 65537, 0x7fffffff]) {
      const head = Buffer.alloc(16);
      head.writeInt16BE(4, 0);
      head.writeInt16BE(1, 2);
      head.writeInt32BE(len, 12);
      const r = await rawExchange(plain.port, head);
      expect(r.reply.length, String(len)).toBe(0);
      expect(r.closed, String(len)).toBe(true);
      expect(r.ms, String(len)).toBeLessThan(1500);
    }
    const extra = await rawExchange(plain.port, Buffer.concat([query(4, 'hello'), Buffer.from('trailing junk')]));
    expect(extra.reply.length).toBe(0);
    expect(plain.output()).toMatch(/invalid buffer length 65537/);
    await stillServes();
  });

  it('accepts a packet that arrives in pieces, and a client that half-closes after it', async () => {
    const p = query(4, 'echoarg!pieces');
    const pieces = [p.subarray(0, 1), p.subarray(1, 15), p.subarray(15, 500), p.subarray(500)];
    const r = await rawExchange(plain.port, pieces, { delayMs: 30 });
    expect(decodePacket(r.reply).text).toBe('pieces');
    const half = await new Promise<Buffer>((resolve) => {
      const s = new Socket();
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => got.push(c));
      s.on('close', () => resolve(Buffer.concat(got)));
      s.connect(plain.port, '127.0.0.1', () => s.end(query(2, 'hello')));
    });
    expect(decodePacket(half).text).toBe('hello');
  });
});

describe('slow clients and floods', () => {
  it('drops a client that never finishes its packet after connection_timeout, serving others meanwhile', async () => {
    const slow = rawExchange(plain.port, query(4, 'hello').subarray(0, 100), { timeoutMs: 6000 });
    const tlsSlow = rawExchange(tls.port, Buffer.from([0x16, 0x03, 0x01]), { timeoutMs: 6000 });
    await stillServes();
    const [r, t] = await Promise.all([slow, tlsSlow]);
    expect(r.closed).toBe(true);
    expect(r.reply.length).toBe(0);
    expect(r.ms).toBeGreaterThan(1800);
    expect(r.ms).toBeLessThan(4000);
    expect(t.closed).toBe(true);
    expect(t.ms).toBeLessThan(4000);
    expect(plain.output()).toMatch(/connection timed out before a complete request/);
  });

  it('keeps serving through a flood of idle, garbage and half-sent connections', async () => {
    const sockets: Socket[] = [];
    const open = (port: number, data?: Buffer): Promise<void> =>
      new Promise((resolve) => {
        const s = new Socket();
        s.on('error', () => resolve());
        s.connect(port, '127.0.0.1', () => {
          if (data) s.write(data);
          resolve();
        });
        sockets.push(s);
      });
    const garbage = Buffer.alloc(700, 0x41);
    await Promise.all([
      ...Array.from({ length: 150 }, () => open(plain.port)),
      ...Array.from({ length: 100 }, () => open(plain.port, garbage)),
      ...Array.from({ length: 100 }, () => open(plain.port, query(4, 'hello').subarray(0, 20))),
      ...Array.from({ length: 100 }, () => open(tls.port)),
      ...Array.from({ length: 50 }, () => open(tls.port, garbage)),
    ]);
    const during = await Promise.all(Array.from({ length: 8 }, () => checkNrpe(tls.port, ['-c', 'hello'])));
    for (const d of during) expect(d).toMatchObject({ code: 0, stdout: 'hello\n' });
    const rawDuring = await rawExchange(plain.port, query(3, 'hello'));
    expect(decodePacket(rawDuring.reply).text).toBe('hello');
    for (const s of sockets) s.destroy();
    // TLS clients that connect and leave at once, in bulk
    await Promise.all(Array.from({ length: 40 }, () => checkNrpe(tls.port, ['-c', 'hello'])));
    expect(plain.proc.exitCode).toBeNull();
    expect(tls.proc.exitCode).toBeNull();
    await stillServes();
  });
});

describe('fuzzing the decoder through the agent', () => {
  it('random bytes never crash it and never get an answer check_nrpe would misread', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 1100 }),
          // random bodies behind a plausible header, to get past the first checks
          fc.tuple(fc.constantFrom(2, 3, 4), fc.integer({ min: -5, max: 1100 }), fc.uint8Array({ maxLength: 1100 })).map(([v, len, body]) => {
            const h = Buffer.alloc(16);
            h.writeInt16BE(v, 0);
            h.writeInt16BE(1, 2);
            h.writeInt32BE(len, 12);
            return new Uint8Array(withCrc(Buffer.concat([h, Buffer.from(body)])));
          }),
        ),
        async (bytes) => {
          const req = Buffer.from(bytes);
          const r = await new Promise<Buffer>((resolve) => {
            const s = new Socket();
            const got: Buffer[] = [];
            s.on('data', (c: Buffer) => got.push(c));
            s.on('error', () => undefined);
            s.on('close', () => resolve(Buffer.concat(got)));
            s.connect(plain.port, '127.0.0.1', () => s.end(req));
          });
          if (req.length >= 2) assertSaneReply(req, r);
          else expect(r.length).toBe(0);
        },
      ),
      { numRuns: 250 },
    );
    await stillServes();
  });

  it('mutated valid queries get either no answer or a sane one', async () => {
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<NrpeVersion>(2, 3, 4),
        fc.constantFrom('hello', 'echoarg!x', '_NRPE_CHECK', 'nope', 'echoarg!a!b'),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (v, text, flips, fixCrc) => {
          const p = query(v, text);
          for (const [at, x] of flips) {
            const i = at % p.length;
            p[i] = p[i]! ^ x;
          }
          if (fixCrc && p.length >= 8) withCrc(p);
          const r = await new Promise<Buffer>((resolve) => {
            const s = new Socket();
            const got: Buffer[] = [];
            s.on('data', (c: Buffer) => got.push(c));
            s.on('error', () => undefined);
            s.on('close', () => resolve(Buffer.concat(got)));
            s.connect(plain.port, '127.0.0.1', () => s.end(p));
          });
          if (r.length) answered++;
          assertSaneReply(p, r);
        },
      ),
      { numRuns: 250 },
    );
    // with the CRC fixed up, some mutations (e.g. in the padding) are still valid queries
    expect(answered).toBeGreaterThan(0);
    expect(plain.proc.exitCode).toBeNull();
    await stillServes();
  });
});
