/**
 * RFC 3261 §17 transaction state machines, every timer driven by an injected clock.
 * T1 = 500 ms, T2 = 4 s, T4 = 5 s.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeSender } from '../../testing/fake-sender.js';
import { FakeClock } from '../../util/clock.js';
import { createResponse, SipRequest, type SipResponse } from '../message.js';
import { parseMessage } from '../parser.js';
import type { Source, Target } from '../transport/types.js';
import { InviteClientState } from './client-invite.js';
import { NonInviteClientState } from './client-non-invite.js';
import { TransactionLayer } from './layer.js';
import { InviteServerState, InviteServerTransaction } from './server-invite.js';
import { NonInviteServerState, NonInviteServerTransaction } from './server-non-invite.js';

const UDP: Target = { transport: 'UDP', host: '192.0.2.9', port: 5060 };
const TCP: Target = { transport: 'TCP', host: '192.0.2.9', port: 5060 };

function request(method: string, transport = 'UDP', branch = 'z9hG4bKabc'): SipRequest {
  const r = new SipRequest(method, 'sip:bob@192.0.2.9');
  if (branch) r.add('via', `SIP/2.0/${transport} 192.0.2.9:5062;branch=${branch}`);
  r.add('from', '<sip:alice@example.com>;tag=f1');
  r.add('to', '<sip:bob@example.com>');
  r.add('call-id', 'cid-1');
  r.add('cseq', `1 ${method}`);
  r.add('max-forwards', '70');
  return r;
}

function setup() {
  const clock = new FakeClock();
  const sender = new FakeSender(clock);
  const layer = new TransactionLayer(sender, clock);
  const events: string[] = [];
  const user = {
    onResponse: (r: SipResponse) => events.push(`response ${r.status}`),
    onTimeout: () => events.push('timeout'),
    onTransportError: () => events.push('transport-error'),
  };
  return { clock, sender, layer, events, user };
}

/** A response to what the client sent (with its branch), as the peer would send it. */
function answer(sender: FakeSender, status: number): SipResponse {
  const sent = sender.sent.find((s) => s.kind === 'request')!;
  const req = (parseMessage(sent.text) as { message: SipRequest }).message;
  return createResponse(req, status, undefined, 'peer');
}

const tick = () => new Promise((r) => setImmediate(r));

describe('INVITE client transaction (§17.1.1)', () => {
  test('Timer A retransmits at T1 doubling; Timer B times out at 64·T1', async () => {
    const { clock, sender, layer, events, user } = setup();
    const tx = layer.request(request('INVITE', 'UDP', ''), UDP, user);
    clock.advance(32_000);
    await tick();
    assert.deepEqual(sender.requestTimes('INVITE'), [0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert.deepEqual(events, ['timeout']);
    assert.equal(tx.state, InviteClientState.Terminated);
    assert.equal(layer.size.clients, 0);
  });

  test('over TCP there is no retransmission', () => {
    const { clock, sender, layer, user } = setup();
    layer.request(request('INVITE', 'TCP', ''), TCP, user);
    clock.advance(31_999);
    assert.deepEqual(sender.requestTimes('INVITE'), [0]);
  });

  test('1xx stops Timer A; a 486 is ACKed, a retransmitted 486 is re-ACKed, Timer D ends it', async () => {
    const { clock, sender, layer, events, user } = setup();
    const tx = layer.request(request('INVITE', 'UDP', ''), UDP, user);
    await tick();
    layer.receive(answer(sender, 180), { transport: 'UDP', address: '192.0.2.9', port: 5060, flowId: 'udp' });
    assert.equal(tx.state, InviteClientState.Proceeding);
    clock.advance(10_000);
    assert.deepEqual(sender.requestTimes('INVITE'), [0]);
    const busy = answer(sender, 486);
    layer.receive(busy, { transport: 'UDP', address: '192.0.2.9', port: 5060, flowId: 'udp' });
    await tick();
    assert.equal(tx.state, InviteClientState.Completed);
    assert.deepEqual(events, ['response 180', 'response 486']);
    const ack = sender.sent.find((s) => s.method === 'ACK')!;
    assert.match(ack.text, /^ACK sip:bob@192\.0\.2\.9 SIP\/2\.0/);
    assert.match(ack.text, /CSeq: 1 ACK/);
    assert.match(ack.text, /To: <sip:bob@example\.com>;tag=peer/);
    // Same branch as the INVITE (§17.1.1.3).
    const inviteBranch = /branch=(\S+?)[;\r]/.exec(sender.sent[0]!.text)![1];
    assert.ok(ack.text.includes(`branch=${inviteBranch}`));
    layer.receive(busy, { transport: 'UDP', address: '192.0.2.9', port: 5060, flowId: 'udp' });
    await tick();
    assert.equal(sender.requestTimes('ACK').length, 2);
    assert.equal(events.length, 2, 'the retransmission is not passed up');
    clock.advance(31_999);
    assert.equal(tx.state, InviteClientState.Completed);
    clock.advance(1);
    assert.equal(tx.state, InviteClientState.Terminated);
  });

  test('2xx moves to Accepted (RFC 6026); retransmitted 2xx go to the TU; Timer M ends it', () => {
    const { clock, sender, layer, events, user } = setup();
    const tx = layer.request(request('INVITE', 'UDP', ''), UDP, user);
    const ok = answer(sender, 200);
    const src: Source = { transport: 'UDP', address: '192.0.2.9', port: 5060, flowId: 'udp' };
    layer.receive(ok, src);
    layer.receive(ok, src);
    assert.equal(tx.state, InviteClientState.Accepted);
    assert.deepEqual(events, ['response 200', 'response 200']);
    clock.advance(32_000);
    assert.equal(tx.state, InviteClientState.Terminated);
  });

  test('a transport error is reported and terminates', async () => {
    const { sender, layer, events, user } = setup();
    sender.failNext = true;
    const tx = layer.request(request('INVITE', 'UDP', ''), UDP, user);
    await tick();
    assert.deepEqual(events, ['transport-error']);
    assert.equal(tx.state, InviteClientState.Terminated);
  });
});

describe('non-INVITE client transaction (§17.1.2)', () => {
  test('Timer E doubles to T2, Timer F times out at 64·T1', () => {
    const { clock, sender, layer, events, user } = setup();
    layer.request(request('OPTIONS', 'UDP', ''), UDP, user);
    clock.advance(32_000);
    assert.deepEqual(sender.requestTimes('OPTIONS'), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    assert.deepEqual(events, ['timeout']);
  });

  test('after a 1xx, Timer E fires every T2; a final response completes; Timer K = T4', () => {
    const { clock, sender, layer, events, user } = setup();
    const tx = layer.request(request('BYE', 'UDP', ''), UDP, user);
    const src: Source = { transport: 'UDP', address: '192.0.2.9', port: 5060, flowId: 'udp' };
    clock.advance(600); // one retransmission at 500
    layer.receive(answer(sender, 100), src);
    assert.equal(tx.state, NonInviteClientState.Proceeding);
    clock.advance(1000); // E fires at 1500 (scheduled before the 1xx), then every T2
    clock.advance(8000);
    assert.deepEqual(sender.requestTimes('BYE'), [0, 500, 1500, 5500, 9500]);
    layer.receive(answer(sender, 200), src);
    assert.equal(tx.state, NonInviteClientState.Completed);
    layer.receive(answer(sender, 200), src);
    assert.deepEqual(events, ['response 100', 'response 200']);
    clock.advance(4999);
    assert.equal(tx.state, NonInviteClientState.Completed);
    clock.advance(1);
    assert.equal(tx.state, NonInviteClientState.Terminated);
  });

  test('over TCP: no Timer E, Timer K = 0', () => {
    const { clock, sender, layer, user } = setup();
    const tx = layer.request(request('BYE', 'TCP', ''), TCP, user);
    clock.advance(10_000);
    assert.deepEqual(sender.requestTimes('BYE'), [0]);
    layer.receive(answer(sender, 200), { transport: 'TCP', address: '192.0.2.9', port: 5060, flowId: 'tcp-1' });
    clock.advance(0);
    assert.equal(tx.state, NonInviteClientState.Terminated);
  });
});

function serverSetup(method: string, transport: 'UDP' | 'TCP' = 'UDP') {
  const s = setup();
  const source: Source = { transport, address: '192.0.2.9', port: 5062, flowId: transport === 'UDP' ? 'udp' : 'tcp-1' };
  let tx: InviteServerTransaction | NonInviteServerTransaction | undefined;
  s.layer.user = { onRequest: (_req, t) => (tx = t) };
  const req = request(method, transport);
  s.layer.receive(req, source);
  return { ...s, source, req, tx: tx! };
}

describe('INVITE server transaction (§17.2.1, RFC 6026)', () => {
  test('sends 100 Trying after 200 ms if the TU is silent; a retransmitted INVITE gets it again', () => {
    const { clock, sender, layer, req, source } = serverSetup('INVITE');
    clock.advance(199);
    assert.deepEqual(sender.responseTimes(100), []);
    clock.advance(1);
    assert.deepEqual(sender.responseTimes(100), [200]);
    layer.receive(req, source);
    assert.deepEqual(sender.responseTimes(100), [200, 200]);
  });

  test('a 486 is retransmitted by Timer G (T1 doubling to T2) until Timer H; no ACK = ack timeout', () => {
    const { clock, sender, tx } = serverSetup('INVITE');
    const ist = tx as InviteServerTransaction;
    let ackTimeout = false;
    ist.user = { onAckTimeout: () => (ackTimeout = true) };
    ist.respond(createResponse(ist.request, 486, undefined, 't'));
    clock.advance(32_000);
    assert.deepEqual(sender.responseTimes(486), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    assert.ok(ackTimeout);
    assert.equal(ist.state, InviteServerState.Terminated);
  });

  test('the ACK moves Completed → Confirmed, stops Timer G; Timer I (T4) terminates', () => {
    const { clock, sender, layer, tx, source } = serverSetup('INVITE');
    const ist = tx as InviteServerTransaction;
    ist.respond(createResponse(ist.request, 486, undefined, 't'));
    clock.advance(600);
    const ack = request('ACK');
    layer.receive(ack, source);
    assert.equal(ist.state, InviteServerState.Confirmed);
    clock.advance(4999);
    assert.deepEqual(sender.responseTimes(486), [0, 500]);
    assert.equal(ist.state, InviteServerState.Confirmed);
    clock.advance(1);
    assert.equal(ist.state, InviteServerState.Terminated);
  });

  test('a 2xx is retransmitted until the dialog sees the ACK; Timer L ends the transaction', () => {
    const { clock, sender, tx } = serverSetup('INVITE');
    const ist = tx as InviteServerTransaction;
    ist.respond(createResponse(ist.request, 200, undefined, 't'));
    assert.equal(ist.state, InviteServerState.Accepted);
    clock.advance(4000);
    ist.ackReceived();
    clock.advance(20_000);
    assert.deepEqual(sender.responseTimes(200), [0, 500, 1500, 3500]);
    clock.advance(8000);
    assert.equal(ist.state, InviteServerState.Terminated);
  });

  test('a 2xx never ACKed is retransmitted to T2 and reported at Timer L', () => {
    const { clock, sender, tx } = serverSetup('INVITE', 'TCP');
    const ist = tx as InviteServerTransaction;
    let ackTimeout = false;
    ist.user = { onAckTimeout: () => (ackTimeout = true) };
    ist.respond(createResponse(ist.request, 200, undefined, 't'));
    clock.advance(32_000);
    // §13.3.1.4: retransmitted even on reliable transports (hop-by-hop reliability only).
    assert.deepEqual(sender.responseTimes(200).slice(0, 6), [0, 500, 1500, 3500, 7500, 11500]);
    assert.ok(ackTimeout);
  });

  test('over TCP a final non-2xx is sent once and Timer I is 0', () => {
    const { clock, sender, layer, tx, source } = serverSetup('INVITE', 'TCP');
    const ist = tx as InviteServerTransaction;
    ist.respond(createResponse(ist.request, 404, undefined, 't'));
    clock.advance(10_000);
    assert.deepEqual(sender.responseTimes(404), [0]);
    layer.receive(request('ACK', 'TCP'), source);
    clock.advance(0);
    assert.equal(ist.state, InviteServerState.Terminated);
  });

  test('CANCEL gets 200 and reaches the TU; the INVITE can then be answered 487', () => {
    const { sender, layer, tx, source } = serverSetup('INVITE');
    const ist = tx as InviteServerTransaction;
    let cancelled = false;
    ist.user = { onCancel: () => (cancelled = true) };
    layer.receive(request('CANCEL'), source);
    assert.ok(cancelled);
    assert.deepEqual(sender.responseTimes(200), [0]);
    ist.respond(createResponse(ist.request, 487, undefined, 't'));
    assert.deepEqual(sender.responseTimes(487), [0]);
  });

  test('a CANCEL matching nothing gets 481', () => {
    const { sender, layer, source } = serverSetup('INVITE');
    layer.receive(request('CANCEL', 'UDP', 'z9hG4bKother'), source);
    assert.deepEqual(sender.responseTimes(481), [0]);
  });
});

describe('non-INVITE server transaction (§17.2.2)', () => {
  test('retransmissions get the last response; Timer J is 64·T1 on UDP', () => {
    const { clock, sender, layer, tx, req, source } = serverSetup('OPTIONS');
    layer.receive(req, source);
    assert.deepEqual(sender.sent, [], 'Trying absorbs retransmissions');
    tx.respond(createResponse(req, 200, undefined, 't'));
    layer.receive(req, source);
    assert.deepEqual(sender.responseTimes(200), [0, 0]);
    clock.advance(31_999);
    assert.equal(tx.state, NonInviteServerState.Completed);
    clock.advance(1);
    assert.equal(tx.state, NonInviteServerState.Terminated);
    assert.equal(layer.size.servers, 0);
  });

  test('Timer J is 0 on TCP', () => {
    const { clock, tx, req } = serverSetup('OPTIONS', 'TCP');
    tx.respond(createResponse(req, 200, undefined, 't'));
    clock.advance(0);
    assert.equal(tx.state, NonInviteServerState.Terminated);
  });

  test('pre-RFC 3261 branches (no magic cookie) still match retransmissions', () => {
    const { sender, layer } = setup();
    let created = 0;
    layer.user = {
      onRequest: (req, t) => {
        created++;
        t!.respond(createResponse(req, 200, undefined, 't'));
      },
    };
    const old = request('OPTIONS', 'UDP', '1234');
    layer.receive(old, { transport: 'UDP', address: '192.0.2.9', port: 5062, flowId: 'udp' });
    layer.receive(request('OPTIONS', 'UDP', '1234'), { transport: 'UDP', address: '192.0.2.9', port: 5062, flowId: 'udp' });
    assert.equal(created, 1);
    assert.equal(sender.responseTimes(200).length, 2);
  });
});
