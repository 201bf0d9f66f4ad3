/** Small helpers every interop test needs: a free loopback port, and a pause. */
import dgram from 'node:dgram';
import net from 'node:net';

/** A loopback port free for both TCP and UDP right now (SIP peers listen on both). */
export async function freePort(): Promise<number> {
  for (;;) {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, '127.0.0.1', () => r(true));
    });
    await new Promise<void>((r) => udp.close(() => r()));
    if (ok) return port;
  }
}

/** Waits `ms` (default 300: long enough for a just-started sipp or baresip to bind its ports). */
export async function settle(ms = 300): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls async `probe` every 100 ms until it gives a value (returned) or `ms` pass (throws naming `what`). */
export async function poll<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await settle(100);
  }
}

/** Polls `pred` every 25 ms until it holds (resolves with the ms it took) or `ms` pass (throws naming `what`). */
export async function waitFor(pred: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!pred()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await settle(25);
  }
  return performance.now() - t0;
}
