import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bdecode, bencode, BencodeError } from './bencode.js';

test('bencode: BEP 3 forms, keys sorted as bytes, undefined values left out, UTF-8 lengths in bytes', () => {
  assert.equal(bencode({ command: 'offer', 'call-id': 'c1', flags: ['trust-address', 'SDES-off'], n: -3, skip: undefined }).toString(), 'd7:call-id2:c17:command5:offer5:flagsl13:trust-address8:SDES-offe1:ni-3ee');
  assert.equal(bencode('Zoë').toString('latin1'), '4:Zo\xc3\xab');
  assert.throws(() => bencode(1.5), /not an integer/);
});

test('bdecode: round trip; a real rtpengine reply; malformed input throws BencodeError, never loops', () => {
  const v = { result: 'ok', sdp: 'v=0\r\nm=audio 30000 RTP/AVP 0\r\n', list: [1, 'a', { x: [] }] };
  assert.deepEqual(bdecode(bencode(v)), v);
  assert.deepEqual(bdecode(Buffer.from('d6:result4:ponge')), { result: 'pong' });
  for (const bad of ['', 'i12', 'ixe', '5:abc', 'd3:keye', 'di1ei2ee', 'l', 'x', 'i1ei2e', '99999999999999999999:a']) {
    assert.throws(() => bdecode(Buffer.from(bad)), BencodeError, JSON.stringify(bad));
  }
  assert.throws(() => bdecode(Buffer.from('l'.repeat(100) + 'e'.repeat(100))), /nested too deeply/);
});
