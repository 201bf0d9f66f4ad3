import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { RtpEndpoint } from './rtp-endpoint.js';

const sdp = (port: number) =>
  ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');

function rtp(seq: number): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b[1] = 0; // PCMU
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(0x1234, 8);
  return b;
}
/** An RTCP receiver report (PT 201), as another stream's RTCP sent to "RTP port + 1" would look. */
const rtcp = () => Buffer.from([0x80, 201, 0, 1, 0, 0, 0x43, 0x21]);

async function socket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

test('only RTP latches: RTCP from another port arriving first does not capture the stream (a peer without rtcp-mux sends RTCP to port + 1)', async () => {
  const ep = await RtpEndpoint.create('rtp-t', '127.0.0.1', '127.0.0.1');
  const peer = await socket();
  const stray = await socket();
  try {
    const got: number[] = [];
    ep.onRtp = (p) => got.push(p.readUInt16BE(2));
    const answer = await ep.answer(sdp(peer.address().port), 'PCMU');
    const port = Number(/m=audio (\d+)/.exec(answer)![1]);
    stray.send(rtcp(), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 1; i <= 3; i++) peer.send(rtp(i), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, [1, 2, 3], 'the peer\'s stream is received');
    // Once latched, RTP from another port is refused and counted.
    stray.send(rtp(99), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, [1, 2, 3]);
    assert.equal(ep.droppedUnverified, 1);
  } finally {
    ep.close();
    peer.close();
    stray.close();
  }
});
