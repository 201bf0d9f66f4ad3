import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MediaEngine } from '../media/types.js';
import { dialogInfoXml, dialogsOf } from './blf.js';
import { Call, CallState } from './call.js';

const media = {} as MediaEngine;

function userCall(caller: string, callee: string): Call {
  const c = new Call('c1', caller, callee, media);
  c.caller.user = true;
  c.callee.user = true;
  return c;
}

test('dialogsOf: the caller is the initiator (trying, early, confirmed); the callee rings (early) and answers (confirmed); an ended call is gone', () => {
  const c = userCall('bob', 'alice');
  assert.deepEqual(dialogsOf('Bob', [c]).map((d) => [d.direction, d.state, d.remote]), [['initiator', 'trying', 'alice']]);
  assert.deepEqual(dialogsOf('alice', [c]), [], 'not ringing yet');
  c.setState(CallState.Ringing);
  c.ringing('Alice', true);
  assert.deepEqual(dialogsOf('bob', [c]).map((d) => d.state), ['early']);
  assert.deepEqual(dialogsOf('alice', [c]).map((d) => [d.direction, d.state, d.remote]), [['recipient', 'early', 'bob']]);
  c.ringing('alice', false);
  c.joined(c.caller);
  c.joined(c.callee);
  c.setState(CallState.Connected);
  assert.deepEqual(dialogsOf('alice', [c]).map((d) => d.state), ['confirmed']);
  assert.deepEqual(dialogsOf('bob', [c]).map((d) => d.state), ['confirmed']);
  assert.equal(dialogsOf('alice', [c])[0]!.id, 'c1-alice', 'the id stays the same from early to confirmed');
  c.setState(CallState.Ended);
  assert.deepEqual(dialogsOf('alice', [c]), []);
});

test('dialogsOf: a number on a trunk is never a watched user, and ringing is per user', () => {
  const c = new Call('c2', '+15551234', 'support', media);
  c.setState(CallState.Queued);
  assert.deepEqual(dialogsOf('+15551234', [c]), [], 'the caller is no user of the gateway');
  c.ringing('bob', true);
  assert.deepEqual(dialogsOf('bob', [c]).map((d) => [d.state, d.remote]), [['early', '+15551234']]);
  assert.deepEqual(dialogsOf('alice', [c]), []);
});

test('dialogInfoXml: RFC 4235 document, escaped, with local and remote identities', () => {
  const xml = dialogInfoXml('sip:alice@10.0.0.1', 3, [{ id: 'c1-alice', callId: 'c1', direction: 'recipient', state: 'early', remote: 'bob' }, { id: 'x"<', callId: 'c&', direction: 'initiator', state: 'terminated', remote: 'x y' }]);
  assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\r\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full" entity="sip:alice@10\.0\.0\.1">/);
  assert.match(xml, /<dialog id="c1-alice" call-id="c1" direction="recipient">\r\n {4}<state>early<\/state>\r\n {4}<local><identity>sip:alice@10\.0\.0\.1<\/identity><\/local>\r\n {4}<remote><identity>sip:bob@10\.0\.0\.1<\/identity><\/remote>/);
  assert.match(xml, /<dialog id="x&quot;&lt;" call-id="c&amp;" direction="initiator">/);
  assert.match(xml, /<remote><identity>sip:anonymous@anonymous\.invalid<\/identity><\/remote>/, 'a remote that is no SIP user part is anonymous');
  assert.ok(xml.endsWith('</dialog-info>\r\n'));
});
