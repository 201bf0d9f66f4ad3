/**
 * Device mode in the SDK without a browser: the gateway's device-call statuses become Calls that
 * go through their states, and the Call API sends the device-call commands.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CenterCommand, DeviceCallStatus } from '@switchboard/protocol';
import { Call, CallState } from '../call.js';
import { SwitchboardError } from '../errors.js';
import { DeviceLine, type DeviceSession } from './device.js';

const data = { caller: '5552000', dialed: '700', queue: 'support', attributes: { ticket: 'T-1' } };

function line(reply: (m: CenterCommand) => Record<string, unknown> | Promise<Record<string, unknown>> = () => ({})) {
  const sent: CenterCommand[] = [];
  const offered: DeviceSession[] = [];
  const l = new DeviceLine(async (m) => {
    sent.push(m);
    return reply(m);
  }, (s) => offered.push(s));
  return { l, sent, offered };
}

test('an incoming device call: rings with queue and data, answer asks the gateway, connected when the device picked up; hold and DTMF are commands; a hold notice arrives; the far end hangs up', async () => {
  const { l, sent, offered } = line();
  const ringing: DeviceCallStatus = { id: 'c1', state: 'ringing', direction: 'incoming', remote: { user: '5552000', displayName: 'Carol' }, queue: { name: 'support', waitSeconds: 4, caller: '5552000' }, data };
  l.status(ringing);
  assert.equal(offered.length, 1);
  const call = new Call(offered[0]!, { autoPlay: false });
  assert.equal(call.state, CallState.Ringing);
  assert.equal(call.id, 'c1');
  assert.deepEqual(call.queue, { name: 'support', waitSeconds: 4, caller: '5552000' });
  assert.equal(call.data?.attributes.ticket, 'T-1');
  assert.equal(call.remoteDisplayName, 'Carol');
  l.status(ringing); // the same status again: nothing new
  assert.equal(offered.length, 1);

  await call.answer();
  assert.deepEqual(sent.at(-1), { type: 'device-call', callId: 'c1', action: 'answer' });
  assert.equal(call.state, CallState.Ringing, 'connected only when the device has picked up');
  l.status({ ...ringing, state: 'connected', sipCallId: 'sip-1' });
  assert.equal(call.state, CallState.Connected);

  await call.hold();
  assert.deepEqual(sent.at(-1), { type: 'device-call', callId: 'c1', action: 'control', control: { type: 'hold' } });
  assert.deepEqual(call.holdState, { onHold: true, by: 'local' });
  await call.resume();
  call.sendDigits('12#');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent.at(-1), { type: 'device-call', callId: 'c1', action: 'dtmf', digits: '12#' });
  l.control('c1', { type: 'hold', onHold: true });
  assert.deepEqual(call.holdState, { onHold: true, by: 'remote' });

  let ended: unknown;
  call.on('ended', (info) => (ended = info));
  l.status({ ...ringing, state: 'ended', end: { status: 200, reason: 'Caller Hung Up' } });
  assert.equal(call.state, CallState.Ended);
  assert.deepEqual(ended, { by: 'remote' });
});

test('click-to-dial: the status can arrive before the reply; dialing → alerting → connected; hang-up is local', async () => {
  let l!: DeviceLine;
  const { l: made, sent } = line((m) => {
    if (m.type === 'device-dial') {
      // The gateway's first push overtakes the command's reply.
      l.status({ id: 'c2', state: 'dialing', direction: 'outgoing', remote: { user: 'bob' }, data: { caller: 'alice', dialed: 'bob', attributes: {} } });
      return { callId: 'c2' };
    }
    return {};
  });
  l = made;
  const call = new Call(await l.dial('bob'), { autoPlay: false });
  assert.deepEqual(sent[0], { type: 'device-dial', target: 'bob' });
  assert.equal(call.state, CallState.Dialing);
  assert.equal(call.direction, 'outgoing');
  l.status({ id: 'c2', sipCallId: 'sip-2', state: 'dialing', direction: 'outgoing', remote: { user: 'bob' }, data: { caller: 'alice', dialed: 'bob', attributes: {} } });
  assert.equal(call.state, CallState.Alerting);
  l.status({ id: 'c2', sipCallId: 'sip-2', state: 'connected', direction: 'outgoing', remote: { user: 'bob' }, data: { caller: 'alice', dialed: 'bob', attributes: {} } });
  assert.equal(call.state, CallState.Connected);
  let ended: unknown;
  call.on('ended', (info) => (ended = info));
  await call.hangup();
  assert.deepEqual(sent.at(-1), { type: 'device-call', callId: 'c2', action: 'hangup' });
  l.status({ id: 'c2', state: 'ended', direction: 'outgoing', remote: { user: 'bob' }, data: { caller: 'alice', dialed: 'bob', attributes: {} }, end: { status: 200, reason: 'Hung Up From The Desktop' } });
  assert.deepEqual(ended, { by: 'local' });
});

test('a refused control rejects with the gateway\'s reason (the call stays); click-to-dial to a busy target ends with SB_BUSY', async () => {
  const refusal = new SwitchboardError('SB_INVALID_STATE', 'The call is not connected (INVALID_STATE)', { status: 409 });
  const { l } = line((m) => (m.type === 'device-dial' ? { callId: m.target === 'bob' ? 'c3' : 'c4' } : Promise.reject(refusal)));
  const call = new Call(await l.dial('bob'), { autoPlay: false });
  const base = { direction: 'outgoing' as const, data: { caller: 'alice', dialed: 'bob', attributes: {} } };
  l.status({ ...base, id: 'c3', state: 'connected', remote: { user: 'bob' } });
  await assert.rejects(call.transfer('carol'), (e: unknown) => e instanceof SwitchboardError && e.code === 'SB_TRANSFER_FAILED' && e.status === 409 && /not connected/.test(e.message));
  assert.equal(call.state, CallState.Connected);

  const busy = new Call(await l.dial('5551234'), { autoPlay: false });
  let ended: { error?: SwitchboardError } | undefined;
  busy.on('ended', (info) => (ended = info));
  l.status({ ...base, id: 'c4', state: 'ended', remote: { user: '5551234' }, end: { status: 486, reason: 'Busy Here' } });
  assert.equal(ended?.error?.code, 'SB_BUSY');
});
