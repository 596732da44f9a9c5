/** Loopback ports for test daemons: other helpers run tests at the same time, so never a fixed one. */
import { createServer, Socket } from 'node:net';

/** A port that was free a moment ago (the kernel picks it: bind port 0, read it, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      if (typeof addr !== 'object' || addr === null) return s.close(() => reject(new Error('no port from listen(0)')));
      s.close(() => resolve(addr.port));
    });
  });
}

/** Whether something accepts TCP connections on host:port now. */
export function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, host);
  });
}
