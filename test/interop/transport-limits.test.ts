/**
 * Stream-transport hygiene on real sockets: the per-address and global connection caps, idle timeouts, and
 * RFC 5626 CRLF keep-alive (double CRLF ping → single CRLF pong) on TCP and TLS.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { after, test } from 'node:test';
import { TransportLayer } from '../../gateway/src/sip/transport/layer.js';
import { ConnectionLimits } from '../../gateway/src/util/admission.js';
import { settle } from '../support/net.js';
import { testCertificate } from '../support/tls.js';

/** Everything a test opened, closed even when an assertion fails (or the file would never exit). */
const opened: { close(): Promise<void> }[] = [];
const sockets: net.Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(opened.map((l) => l.close().catch(() => undefined)));
});
function connect(opts: net.NetConnectOpts): net.Socket {
  const s = net.connect(opts);
  s.on('error', () => undefined);
  sockets.push(s);
  return s;
}

function layer(opts: { maxConnectionsPerIp?: number; maxTotal?: number; idleTimeoutMs?: number } = {}) {
  const { maxConnectionsPerIp, maxTotal, ...rest } = opts;
  const limits = new ConnectionLimits(maxTotal ?? 1000);
  const pool = maxConnectionsPerIp !== undefined || maxTotal !== undefined ? limits.pool('SIP', maxConnectionsPerIp ?? 1000) : undefined;
  const l = Object.assign(new TransportLayer({ bindHost: '127.0.0.1', advertisedHost: '127.0.0.1', ...(pool ? { pool } : {}), ...rest }), { admission: limits.stats });
  opened.push(l);
  return l;
}

/** Resolves when the socket is closed by the other side (or after `ms`, with false). */
function closedWithin(sock: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (sock.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    sock.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

test('per-IP cap: the 4th TCP connection from one address is refused, others are unaffected', async () => {
  const t = layer({ maxConnectionsPerIp: 3 });
  const port = await t.listenTcp(0);
  const open: net.Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    open.push(s);
  }
  await settle(150);
  const fourth = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
  assert.equal(await closedWithin(fourth, 1000), true, 'the 4th connection is closed at once');
  const other = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' });
  assert.equal(await closedWithin(other, 300), false, 'another address still gets in');
  assert.equal(t.stats.refusedConnections, 1);
  assert.equal(t.admission.refusedPerAddress, 1);
  // Closing one frees its slot.
  open[0]!.destroy();
  await settle(150);
  const again = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
  assert.equal(await closedWithin(again, 300), false, 'a freed slot can be used again');
  for (const s of [...open, other, again]) s.destroy();
  await t.close();
});

test('global cap: past limits.maxConnections every address is refused until one closes', async () => {
  const t = layer({ maxConnectionsPerIp: 10, maxTotal: 4 });
  const port = await t.listenTcp(0);
  const open: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${2 + i}` });
    open.push(s);
  }
  await settle(150);
  assert.equal(t.admission.open, 4);
  const fifth = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.9' });
  assert.equal(await closedWithin(fifth, 1000), true, 'a fresh address is refused at the global cap');
  assert.equal(t.admission.refusedTotal, 1);
  open[0]!.destroy();
  await settle(150);
  assert.equal(t.admission.open, 3, 'the closed connection gave its place back');
  const again = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.9' });
  assert.equal(await closedWithin(again, 300), false, 'a freed place can be used');
  for (const s of [...open, again]) s.destroy();
  await t.close();
});

test('idle TCP connections are closed after the idle timeout; active ones stay', async () => {
  const t = layer({ idleTimeoutMs: 400 });
  const port = await t.listenTcp(0);
  const idle = connect({ port, host: '127.0.0.1' });
  const busy = connect({ port, host: '127.0.0.1' });
  const keep = setInterval(() => busy.write('\r\n\r\n'), 150);
  const [idleClosed, busyClosed] = await Promise.all([closedWithin(idle, 1500), closedWithin(busy, 1000)]);
  clearInterval(keep);
  assert.equal(idleClosed, true, 'idle connection closed');
  assert.equal(busyClosed, false, 'a connection sending keep-alives stays open');
  assert.equal(t.stats.idleClosed, 1);
  busy.destroy();
  await t.close();
});

for (const kind of ['TCP', 'TLS'] as const) {
  test(`RFC 5626 keep-alive on ${kind}: a double-CRLF ping gets a single-CRLF pong`, async () => {
    const t = layer();
    const cert = testCertificate();
    const port = kind === 'TCP' ? await t.listenTcp(0) : await t.listenTls(0, { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) });
    const sock: net.Socket = kind === 'TCP' ? net.connect({ port, host: '127.0.0.1' }) : tls.connect({ port, host: '127.0.0.1', ca: readFileSync(cert.certFile) });
    await new Promise<void>((r) => sock.once(kind === 'TCP' ? 'connect' : 'secureConnect', () => r()));
    const got: Buffer[] = [];
    sock.on('data', (d) => got.push(d));
    sock.write('\r\n\r\n');
    sock.write('\r\n\r\n');
    await settle(200);
    assert.equal(Buffer.concat(got).toString('latin1'), '\r\n\r\n', 'two pings, two single-CRLF pongs');
    sock.destroy();
    await t.close();
  });
}
