import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebRtcEndpoint } from './webrtc-endpoint.js';

/** The werift ICE connections of an endpoint (internal: this guards a workaround of werift's). */
function stunServers(ep: WebRtcEndpoint): unknown[] {
  const pc = (ep as unknown as { pc: { iceTransports: Array<{ connection: { stunServer?: unknown } }> } }).pc;
  return pc.iceTransports.map((t) => t.connection.stunServer);
}

test('offers and answers gather host candidates only: no STUN server is asked (werift would ask Google\'s and wait)', async () => {
  const a = new WebRtcEndpoint('webrtc-a', { bindAddress: '127.0.0.1' });
  const b = new WebRtcEndpoint('webrtc-b', { bindAddress: '127.0.0.1' });
  try {
    const t0 = performance.now();
    const offer = await a.offer(['PCMU']);
    const answer = await b.answer(offer, 'PCMU');
    const took = performance.now() - t0;
    assert.deepEqual(stunServers(a), [undefined]);
    assert.deepEqual(stunServers(b), [undefined]);
    assert.match(offer, /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
    assert.doesNotMatch(offer + answer, /typ srflx/);
    assert.ok(took < 1000, `offer + answer took ${took.toFixed(0)} ms`);
  } finally {
    a.close();
    b.close();
  }
});
