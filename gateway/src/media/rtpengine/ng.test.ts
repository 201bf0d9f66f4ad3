import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { NgClient, NgError } from './ng.js';

/** A UDP socket on loopback answering each datagram with `reply(datagram)` (or nothing). */
async function fakeServer(reply: (msg: Buffer) => Buffer | undefined): Promise<{ port: number; close(): void }> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, from) => {
    const out = reply(msg);
    if (out) s.send(out, from.port, from.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, close: () => s.close() };
}

test('a ping answered pong resolves; an error result rejects with its reason', async () => {
  const srv = await fakeServer((msg) => {
    const cookie = msg.subarray(0, msg.indexOf(0x20)).toString();
    return Buffer.from(msg.includes('4:ping') ? `${cookie} d6:result4:ponge` : `${cookie} d6:result5:error12:error-reason12:Unknown calle`);
  });
  const ng = new NgClient(`127.0.0.1:${srv.port}`, { retransmitMs: 100, attempts: 2 });
  try {
    assert.equal((await ng.request('ping')).result, 'pong');
    await assert.rejects(ng.request('query', { 'call-id': 'x' }), (e: Error) => e instanceof NgError && /Unknown call/.test(e.message));
  } finally {
    ng.close();
    srv.close();
  }
});

test('a request that comes back as it was sent (something echoing on the port) is an error, not a reply', async () => {
  const srv = await fakeServer((msg) => msg);
  const ng = new NgClient(`127.0.0.1:${srv.port}`, { retransmitMs: 100, attempts: 2 });
  try {
    await assert.rejects(ng.request('ping'), (e: Error) => e instanceof NgError && /the request itself came back/.test(e.message));
  } finally {
    ng.close();
    srv.close();
  }
});
