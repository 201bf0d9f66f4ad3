import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canPair, lastPacketFrom, reportedQuality, type PairableEndpoint } from './direct.js';

const sdp = (pts: string, extra: string[] = [], dir = 'sendrecv') =>
  ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio 4000 RTP/AVP ${pts}`, ...extra, `a=${dir}`, ''].join('\r\n');
const TE101 = ['a=rtpmap:101 telephone-event/8000'];

/** A peer that offered `offer`, answered by the worker with `answer`. */
const ep = (offer: string, answer: string, port = 5000): PairableEndpoint => ({ id: 'x', ext: 'ext-x', int: 'int-x', offerer: 'ext', peerSdp: offer, workerSdp: answer, peerFacingPort: port });

test('canPair: the same codec and telephone-event types on both sides, both sending', () => {
  const a = ep(sdp('0 8 101', TE101), sdp('0 101', TE101));
  const b: PairableEndpoint = { id: 'y', ext: 'ext-y', int: 'int-y', offerer: 'int', workerSdp: sdp('0 8 101', TE101), peerSdp: sdp('0 101', TE101), peerFacingPort: 6000 };
  assert.equal(canPair(a, b), true);
  // PCMA on one side: rtpengine would have to transcode → stays on the worker.
  assert.equal(canPair(ep(sdp('8 101', TE101), sdp('8 101', TE101)), b), false);
  // telephone-event on another payload type (or missing on one side).
  assert.equal(canPair(ep(sdp('0 96', ['a=rtpmap:96 telephone-event/8000']), sdp('0 96', ['a=rtpmap:96 telephone-event/8000'])), b), false);
  assert.equal(canPair(ep(sdp('0'), sdp('0')), b), false);
  // A peer on hold (sendonly) or not yet answered.
  assert.equal(canPair(ep(sdp('0 101', TE101, 'sendonly'), sdp('0 101', TE101, 'recvonly')), b), false);
  assert.equal(canPair({ ...b, peerSdp: undefined }, a), false);
});

test('lastPacketFrom: the newest RTP stream of the tag, RTCP ignored', () => {
  const q = { tags: { 'ext-a': { medias: [{ streams: [{ 'last packet': 100, flags: ['RTP'] }, { 'last packet': 200, flags: ['RTCP'] }] }] } } };
  assert.equal(lastPacketFrom(q, 'ext-a'), 100);
  assert.equal(lastPacketFrom(q, 'ext-b'), 0);
});

test('reportedQuality: the latest report on the peer\'s stream, else the peer\'s own report on what it receives (shape of rtpengine 10.5\'s query)', () => {
  const entry = (at: number, mos: number, loss: number) => ({ MOS: mos, 'round-trip time': 679, 'round-trip time leg': 151, jitter: 3, 'packet loss': loss, 'reported at': at });
  const stream = (ssrc: number) => ({ medias: [{ streams: [{ flags: ['RTP', 'RTCP', 'ICE'], SSRC: ssrc }, { flags: ['RTCP'], SSRC: ssrc }] }] });
  const q = {
    // The browser (ssrc 1) reported on the phone's stream (2): an empty first report, then two.
    SSRC: { '2': { 'MOS progression': { interval: 0, entries: [entry(100, 0, 0), entry(105, 44, 0), entry(110, 27, 18)] } } },
    tags: { 'ext-browser': stream(1), 'ext-phone': stream(2), 'int-phone': { medias: [{ streams: [{ flags: ['RTP'], stats: {} }] }] } },
  };
  assert.deepEqual(reportedQuality(q, 'ext-phone', 'ext-browser'), { reportedAt: 110_000, lossPct: 18, jitterMs: 3, rttMs: 0.679 });
  // Nobody reported on the browser's stream: the browser's own report stands in.
  assert.deepEqual(reportedQuality(q, 'ext-browser', 'ext-phone'), { reportedAt: 110_000, lossPct: 18, jitterMs: 3, rttMs: 0.679 });
  // Only the empty report so far, or no reports at all.
  assert.equal(reportedQuality({ ...q, SSRC: { '2': { 'MOS progression': { entries: [entry(100, 0, 0)] } } } }, 'ext-phone', 'ext-browser'), undefined);
  assert.equal(reportedQuality({ tags: q.tags }, 'ext-phone', 'ext-browser'), undefined);
});
