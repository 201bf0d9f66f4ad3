import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrunkConfig } from '../config.js';
import { SipCore } from '../sip/core.js';
import { DigestServer } from '../sip/digest.js';
import { createResponse, type SipRequest } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { TransactionLayer } from '../sip/transaction/layer.js';
import { FakeSender } from '../testing/fake-sender.js';
import { FakeClock } from '../util/clock.js';
import { setLogSink } from '../util/log.js';
import { Trunk } from './trunk.js';

setLogSink(() => undefined);

function setup(over: Partial<TrunkConfig> = {}) {
  const clock = new FakeClock();
  const sender = new FakeSender(clock);
  const txl = new TransactionLayer(sender, clock);
  const core = new SipCore(sender, txl, {
    clock, realm: 'gw', digestAlgorithms: ['MD5'], credentials: () => undefined, advertisedHost: '192.0.2.1',
    registrar: { minExpires: 60, maxExpires: 3600, defaultExpires: 600 }, userAgent: 'test',
  });
  const trunk = new Trunk({ name: 'pbx', host: '198.51.100.5', username: 'switchboard', password: 'trunk-secret', expires: 600, optionsInterval: 0, ...over }, core, clock);
  const pbx = new DigestServer({ realm: 'pbx.test', algorithms: ['MD5'], clock });
  /** The last request of a method the trunk sent, parsed. */
  const last = (method: string): SipRequest => {
    const s = sender.sent.filter((x) => x.kind === 'request' && x.method === method).at(-1);
    assert.ok(s, `no ${method} sent`);
    const r = parseMessage(s.text);
    assert.ok(r.ok);
    return r.message as SipRequest;
  };
  const count = (method: string) => sender.sent.filter((x) => x.kind === 'request' && x.method === method).length;
  /** Answers the last request of `method` (the PBX's side). */
  const answer = (method: string, status: number, headers: Array<[string, string]> = []) => {
    const req = last(method);
    const res = createResponse(req, status, undefined, 'pbxtag');
    for (const [k, v] of headers) res.add(k, v);
    txl.receive(res, { transport: 'UDP', address: '198.51.100.5', port: 5060, flowId: 'udp' });
  };
  return { clock, trunk, pbx, last, count, answer };
}

test('registers with digest (401 → credentials verified by a digest server), refreshes 60 s before expiry', () => {
  const { clock, trunk, pbx, last, count, answer } = setup();
  trunk.start();
  assert.equal(count('REGISTER'), 1);
  const first = last('REGISTER');
  assert.equal(first.get('expires'), '600');
  answer('REGISTER', 401, pbx.challenges().map((c) => ['www-authenticate', c] as [string, string]));
  assert.equal(count('REGISTER'), 2);
  const second = last('REGISTER');
  assert.deepEqual(pbx.verify(second.getAll('authorization'), { method: 'REGISTER', uri: second.uri }, () => ({ password: 'trunk-secret' })), { ok: true, username: 'switchboard' });
  assert.equal(second.callId, first.callId);
  assert.equal(second.cseq.seq, 2, 'same Call-ID, CSeq + 1 (§10.2.4)');
  answer('REGISTER', 200, [['contact', '<sip:switchboard@192.0.2.1:5060;transport=udp>;expires=300']]);
  assert.equal(trunk.registration, 'registered');
  assert.equal(trunk.registrationDetail, '300 s', 'the granted expiry, not the requested one');
  clock.advance(239_999);
  assert.equal(count('REGISTER'), 2);
  clock.advance(1);
  assert.equal(count('REGISTER'), 3, 'refreshed at 300 - 60 s');
});

test('423 Interval Too Brief: registers again with Min-Expires', () => {
  const { clock, trunk, last, answer } = setup({ password: 'x', expires: 60 });
  trunk.start();
  answer('REGISTER', 423, [['min-expires', '900']]);
  clock.advance(0);
  assert.equal(last('REGISTER').get('expires'), '900');
  answer('REGISTER', 200);
  assert.equal(trunk.registration, 'registered');
});

test('failures back off 2 s, 4 s, 8 s … and a wrong password is not retried in a loop', () => {
  const { clock, trunk, pbx, count, answer } = setup();
  trunk.start();
  answer('REGISTER', 503);
  assert.equal(trunk.registration, 'failed');
  assert.match(trunk.registrationDetail, /503.*retry in 2 s/);
  clock.advance(1999);
  assert.equal(count('REGISTER'), 1);
  clock.advance(1);
  assert.equal(count('REGISTER'), 2);
  answer('REGISTER', 401, pbx.challenges().map((c) => ['www-authenticate', c] as [string, string]));
  answer('REGISTER', 401, pbx.challenges().map((c) => ['www-authenticate', c] as [string, string]));
  assert.equal(count('REGISTER'), 3, 'one answer to the challenge, then give up until the backoff');
  assert.match(trunk.registrationDetail, /401.*retry in 4 s/);
  clock.advance(4000);
  assert.equal(count('REGISTER'), 4);
});

test('no answer (Timer F) counts as a failure and is retried', () => {
  const { clock, trunk, count } = setup();
  trunk.start();
  clock.advance(32_000);
  assert.equal(trunk.registration, 'failed');
  assert.match(trunk.registrationDetail, /timeout/);
  clock.advance(2000);
  assert.ok(count('REGISTER') >= 2);
});

test('OPTIONS health: 2 misses mark it down, any answer brings it up and re-registers', () => {
  const { clock, trunk, count, answer } = setup({ optionsInterval: 1, optionsMisses: 2 });
  trunk.start();
  answer('REGISTER', 200);
  const regs = count('REGISTER');
  clock.advance(1000); // first probe
  answer('OPTIONS', 200);
  assert.equal(trunk.health, 'up');
  clock.advance(3000); // two unanswered probes (800 ms verdict each)
  assert.equal(trunk.health, 'down');
  clock.advance(1000);
  answer('OPTIONS', 501);
  assert.equal(trunk.health, 'up', '501 Not Implemented still proves the PBX is alive');
  assert.equal(count('REGISTER'), regs + 1, 'a trunk that comes back is registered again at once');
});

test('E.164 normalization and DID matching ignore formatting', () => {
  const { trunk } = setup({ e164CountryCode: '44', dids: { '+44 20 7946 0000': '1001' } });
  assert.equal(trunk.normalize('020 7946 0018'), '+442079460018');
  assert.equal(trunk.normalize('0044 20 7946 0018'), '+442079460018');
  assert.equal(trunk.normalize('+1 (555) 010-0000'), '+15550100000');
  assert.equal(trunk.didTarget('442079460000'), '1001');
  assert.equal(trunk.didTarget('+44-20-7946-0000'), '1001');
  assert.equal(trunk.didTarget('5550000'), undefined);
  const plain = setup().trunk;
  assert.equal(plain.normalize('555 2000'), '5552000', 'as dialled when no country code is set');
});
