import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../util/clock.js';
import { FakeSender } from '../testing/fake-sender.js';
import { Dialog } from './dialog.js';
import { TransactionLayer } from './transaction/layer.js';

function dialog(routeSet: string[]): Dialog {
  const clock = new FakeClock();
  const txl = new TransactionLayer(new FakeSender(clock), clock);
  return new Dialog({
    callId: 'c1', localTag: 'l', remoteTag: 'r', localUri: '<sip:gw@a>;tag=l', remoteUri: '<sip:bob@b>;tag=r', localSeq: 1, remoteSeq: 1,
    remoteTarget: 'sip:bob@192.0.2.4:5060', routeSet, target: { transport: 'UDP', host: '192.0.2.3', port: 5060 }, localContact: '<sip:gw@192.0.2.1>',
  }, txl, () => undefined);
}

test('§12.2.1.1 loose routing: Request-URI is the remote target, Route set copied in order', () => {
  const req = dialog(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']).createRequest('BYE');
  assert.equal(req.uri, 'sip:bob@192.0.2.4:5060');
  assert.deepEqual(req.getAll('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
  assert.deepEqual(req.cseq, { seq: 2, method: 'BYE' });
});

test('§12.2.1.1 strict routing: first route becomes the Request-URI, remote target goes last', () => {
  const req = dialog(['<sip:strict.example.com;transport=udp>', '<sip:p2.example.com;lr>']).createRequest('BYE');
  assert.equal(req.uri, 'sip:strict.example.com;transport=udp');
  assert.deepEqual(req.getAll('route'), ['<sip:p2.example.com;lr>', '<sip:bob@192.0.2.4:5060>']);
});

test('no route set: straight to the remote target', () => {
  const req = dialog([]).createRequest('INFO');
  assert.equal(req.uri, 'sip:bob@192.0.2.4:5060');
  assert.equal(req.getAll('route').length, 0);
});
