/**
 * PBX trunks against real Kamailio (the PBX: digest 401 for REGISTER, 407 for INVITE) with a
 * real baresip "customer" registered to it that auto-answers and plays a tone:
 *  - the gateway registers its trunk (UDP, TCP, TLS);
 *  - a customer calls the DID → Kamailio → gateway → browser agent: both hear each other;
 *  - the agent dials the customer → gateway → trunk → Kamailio → baresip: both hear each other;
 *  - failover: two Kamailios as trunks; the first stops → new calls go through the second within
 *    the detection time; it comes back → it is used again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TrunkConfig } from '../../gateway/src/config.js';
import { analyse, loudestWindow, readWav } from '../support/audio.js';
import { Baresip } from '../support/baresip.js';
import { firstAudioAt, launchAgent, loginDemo, measureRemoteAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { Kamailio } from '../support/kamailio.js';
import { freePort, settle, waitFor } from '../support/net.js';
import { sipp } from '../support/sipp.js';
import { testCertificate } from '../support/tls.js';
import { demoConfig } from '../../gateway/src/index.js';

const AGENT_HZ = 500;
const CUSTOMER_HZ = 1700;
let pbxA: Kamailio;
let pbxB: Kamailio;
let customer: Baresip;
let announcePort: number;

before(async () => {
  announcePort = await freePort();
  pbxA = await Kamailio.start('pbx-a', { tls: true, earlyMediaPort: announcePort });
  pbxB = await Kamailio.start('pbx-b');
  // The customer's phone: registered at both PBXs as 5552000 (first account: PBX A).
  customer = await Baresip.start({
    name: 'customer', user: '5552000', password: 'customer-secret', gatewayPort: pbxA.port, toneHz: CUSTOMER_HZ, extraRegistrarPorts: [pbxB.port],
  });
  await waitFor(() => /5552000.*200 OK|registered/i.test(customer.log) || customer.log.split('200 OK').length > 2, 5000, 'customer registered at both PBXs').catch(() => undefined);
  await settle(500);
});

after(async () => {
  await customer?.stop();
  await pbxA?.stop();
  await pbxB?.stop();
});


function trunk(name: string, pbx: Kamailio, transport: 'udp' | 'tcp' | 'tls', over: Partial<TrunkConfig> = {}): TrunkConfig {
  return {
    name, host: '127.0.0.1', port: transport === 'tls' ? pbx.tlsPort : pbx.port, transport, username: 'switchboard', password: 'trunk-secret',
    realm: 'pbx.test', expires: 120, dids: { '5551000': '1001' }, optionsInterval: 1, optionsMisses: 2, ...over,
  };
}

async function gatewayWith(trunks: TrunkConfig[]): Promise<TestGateway> {
  const cert = testCertificate();
  const base = demoConfig();
  return startGateway({
    trunks,
    center: { ...base.center, database: ':memory:', callDataHeaders: { 'X-Customer-Id': 'customerId' } },
    tls: { certFile: cert.certFile, keyFile: cert.keyFile, caFile: cert.certFile },
    http: { port: 0, httpsPort: 0 },
    sip: { ...base.sip, udpPort: 0, tcpPort: 0, tlsPort: 0 },
  });
}

function assertHeard(file: string, hz: number): void {
  const { samples, sampleRate } = readWav(file);
  const got = analyse(loudestWindow(samples, sampleRate), sampleRate);
  console.log(`# customer hears ${got.frequency} Hz at ${got.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(got.frequency - hz) <= 20 && got.levelDb > -35, `expected ${hz} Hz, found ${JSON.stringify(got)}`);
}

for (const transport of ['udp', 'tcp', 'tls'] as const) {
  test(`${transport}: trunk registers; the customer calls the DID and the agent dials the customer, audio both ways`, async () => {
    const gw = await gatewayWith([trunk(`pbx-a-${transport}`, pbxA, transport)]);
    let agent: Agent | undefined;
    try {
      const t = gw.gw.trunks.trunks[0]!;
      await waitFor(() => t.registration === 'registered', 8000, `trunk registration over ${transport}: ${t.registrationDetail}`);
      console.log(`# ${transport}: trunk registered in ${t.status().lastRegistrationMs} ms (REGISTER, 401, REGISTER with digest, 200)`);

      agent = await launchAgent(gw.addrs.httpUrl, AGENT_HZ);
      await loginDemo(agent.page, 'alice', 'alice-demo');

      // Inbound: customer → DID 5551000 at the PBX → trunk → alice.
      const recBefore = customer.receivedRecordings().length;
      const closedBefore = customer.events.filter((e) => e.type === 'CALL_CLOSED').length;
      const dial = await customer.command('dial', `sip:5551000@127.0.0.1:${pbxA.port}`);
      assert.ok(dial.ok, `baresip refused to dial: ${dial.data}`);
      await agent.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
      assert.match((await agent.page.getByTestId('incoming-from').textContent()) ?? '', /5552000/, 'the agent sees the customer number');
      await agent.page.getByTestId('answer').click();
      await agent.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
      // The call is up; ICE and DTLS may still be finishing (seconds on a loaded machine).
      await firstAudioAt(agent.page, 10_000);
      const heardIn = await measureRemoteAudio(agent.page, 2000);
      console.log(`# ${transport} inbound: agent hears ${heardIn.frequency.toFixed(0)} Hz at ${heardIn.levelDb.toFixed(1)} dBFS`);
      assert.ok(Math.abs(heardIn.frequency - CUSTOMER_HZ) < 15 && heardIn.levelDb > -30, `agent should hear the customer: ${JSON.stringify(heardIn)}`);
      await agent.page.getByTestId('hangup').click();
      await customer.waitEvent(() => customer.events.filter((e) => e.type === 'CALL_CLOSED').length > closedBefore);
      assert.ok(customer.receivedRecordings().length > recBefore);
      assertHeard(customer.receivedRecordings().at(-1)!, AGENT_HZ);
      assert.equal(t.callsIn, 1);

      // Outbound: alice dials the customer's number → trunk (407 answered) → PBX → customer.
      const recBefore2 = customer.receivedRecordings().length;
      const closed2 = customer.events.filter((e) => e.type === 'CALL_CLOSED').length;
      await agent.page.getByTestId('target').fill('5552000');
      await agent.page.getByTestId('dial').click();
      await agent.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
      await firstAudioAt(agent.page, 10_000);
      const heardOut = await measureRemoteAudio(agent.page, 2000);
      console.log(`# ${transport} outbound: agent hears ${heardOut.frequency.toFixed(0)} Hz at ${heardOut.levelDb.toFixed(1)} dBFS`);
      assert.ok(Math.abs(heardOut.frequency - CUSTOMER_HZ) < 15 && heardOut.levelDb > -30, `agent should hear the customer: ${JSON.stringify(heardOut)}`);
      await agent.page.getByTestId('hangup').click();
      await customer.waitEvent(() => customer.events.filter((e) => e.type === 'CALL_CLOSED').length > closed2);
      assert.ok(customer.receivedRecordings().length > recBefore2);
      assertHeard(customer.receivedRecordings().at(-1)!, AGENT_HZ);
      assert.equal(t.callsOut, 1);
    } finally {
      await agent?.close();
      await gw.stop();
    }
  });
}

test('a DID feeds a queue: the customer behind the PBX waits in "support", the available agent takes the call with its data (the PBX\'s customer id); the agent attaches a case during and after the call; the record has it all', async () => {
  const gw = await gatewayWith([trunk('pbx-a', pbxA, 'udp', { dids: { '5551000': '1001', '5551700': '700' } })]);
  let agent: Agent | undefined;
  try {
    await waitFor(() => gw.gw.trunks.trunks[0]!.registration === 'registered', 8000, 'registration');
    agent = await launchAgent(gw.addrs.httpUrl, AGENT_HZ);
    await loginDemo(agent.page, 'alice', 'alice-demo');
    await agent.page.getByTestId('agent-select').selectOption('available');
    await agent.page.getByTestId('agent-state').filter({ hasText: /^available$/ }).waitFor({ timeout: 5000 });
    const closed = customer.events.filter((e) => e.type === 'CALL_CLOSED').length;
    const dial = await customer.command('dial', `sip:5551700@127.0.0.1:${pbxA.port}`);
    assert.ok(dial.ok, `baresip refused to dial: ${dial.data}`);
    await agent.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
    assert.match((await agent.page.getByTestId('incoming-from').textContent()) ?? '', /5552000/);
    assert.match((await agent.page.getByTestId('incoming-queue').textContent()) ?? '', /via support/);
    // The screen pop: call.data from the offer — the DID dialled, the queue, the trunk and the
    // customer id the PBX put in a SIP header (center.callDataHeaders).
    const offered = await agent.page.evaluate(() => window.demo.phone!.calls[0]!.data);
    console.log(`# call.data at the offer: ${JSON.stringify(offered)}`);
    assert.deepEqual({ ...offered, waitMs: typeof offered?.waitMs }, { caller: '5552000', dialed: '5551700', queue: 'support', trunk: 'pbx-a', waitMs: 'number', attributes: { customerId: 'C-5552000' } });
    assert.equal(await agent.page.getByTestId('incoming-data').textContent(), 'dialled 5551700 · customerId: C-5552000');
    await agent.page.getByTestId('answer').click();
    await agent.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
    const heard = await measureRemoteAudio(agent.page, 1500);
    console.log(`# DID → queue: agent hears ${heard.frequency.toFixed(0)} Hz at ${heard.levelDb.toFixed(1)} dBFS`);
    assert.ok(Math.abs(heard.frequency - CUSTOMER_HZ) < 15 && heard.levelDb > -40, `agent should hear the customer: ${JSON.stringify(heard)}`);
    // During the call the desktop attaches a CRM case; a bad key is refused with a coded error.
    const during = await agent.page.evaluate(async () => {
      const call = window.demo.call!;
      const events: string[] = [];
      call.on('dataChanged', (d) => events.push(JSON.stringify(d.attributes)));
      const bad = await call.setData({ 'no spaces': 'x' }).then(() => 'accepted', (e: { code: string }) => e.code);
      const data = await call.setData({ caseId: 'CASE-42' });
      return { id: call.id, bad, attributes: data.attributes, events };
    });
    assert.equal(during.bad, 'SB_INVALID_ARGUMENT');
    assert.deepEqual(during.attributes, { customerId: 'C-5552000', caseId: 'CASE-42' });
    assert.deepEqual(during.events, [JSON.stringify({ customerId: 'C-5552000', caseId: 'CASE-42' })]);
    assert.deepEqual(gw.gw.center.store.call(during.id!)!.data?.attributes, { customerId: 'C-5552000', caseId: 'CASE-42' }, 'in the live record at once');
    await agent.page.getByTestId('hangup').click();
    await customer.waitEvent(() => customer.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
    await settle(200);
    // After the call (wrap-up), a CRM with the agent's token attaches the outcome and removes the case.
    const { token } = (await (await fetch(new URL('/api/login', gw.addrs.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'alice-demo' }) })).json()) as { token: string };
    const api = (method: string, p: string, body?: unknown) => fetch(new URL(p, gw.addrs.httpUrl), { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const after = await api('POST', `/api/calls/${during.id}/data`, { attributes: { crmOutcome: 'refund issued', caseId: null } });
    assert.equal(after.status, 200);
    assert.deepEqual(((await after.json()) as { data: { attributes: unknown } }).data.attributes, { customerId: 'C-5552000', crmOutcome: 'refund issued' });
    assert.equal((await api('POST', `/api/calls/${during.id}/data`, { attributes: { 'x y': '1' } })).status, 400);
    assert.equal((await api('POST', '/api/calls/not-a-call/data', { attributes: { a: '1' } })).status, 404);
    const rec = (await (await api('GET', `/api/records/${during.id}`)).json()) as import('../../gateway/src/center/store.js').CallRecord;
    assert.deepEqual([rec.caller, rec.agent, rec.trunk, rec.outcome, rec.endedBy], ['5552000', 'alice', 'pbx-a', 'answered', 'callee']);
    assert.deepEqual({ ...rec.data, waitMs: typeof rec.data?.waitMs }, { caller: '5552000', dialed: '5551700', queue: 'support', trunk: 'pbx-a', waitMs: 'number', attributes: { customerId: 'C-5552000', crmOutcome: 'refund issued' } });
    const csv = await (await api('GET', '/api/records?format=csv')).text();
    assert.match(csv, /customerId=C-5552000;crmOutcome=refund issued/);
  } finally {
    await agent?.close();
    await gw.stop();
  }
});

test('early media: a 183 announcement from the PBX reaches the agent before the answer', async () => {
  const gw = await gatewayWith([trunk('pbx-a', pbxA, 'udp')]);
  const announcer = sipp(['-sf', 'uas-early-media.xml', '-p', String(announcePort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']);
  let agent: Agent | undefined;
  try {
    await waitFor(() => gw.gw.trunks.trunks[0]!.registration === 'registered', 8000, 'registration');
    agent = await launchAgent(gw.addrs.httpUrl, AGENT_HZ);
    await loginDemo(agent.page, 'alice', 'alice-demo');
    await agent.page.getByTestId('target').fill('5553000');
    await agent.page.getByTestId('dial').click();
    await agent.page.getByTestId('call-state').filter({ hasText: 'alerting' }).waitFor({ timeout: 10_000 });
    // The recording is speech with pauses: wait for the first 5 ms frame above -40 dBFS rather
    // than averaging a window that may fall in a pause.
    const t0 = Date.now();
    const heardAt = await firstAudioAt(agent.page, 2500);
    const stateDuring = await agent.page.getByTestId('call-state').textContent();
    console.log(`# early media: agent hears the announcement ${heardAt - t0} ms into alerting, state "${stateDuring}"`);
    assert.match(stateDuring ?? '', /alerting/, 'audible before the answer');
    await agent.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
    await agent.page.getByTestId('hangup').click();
    const r = await announcer.done;
    assert.equal(r.code, 0, `announcement service:\n${r.out.slice(-2000)}`);
  } finally {
    announcer.proc.kill();
    await agent?.close();
    await gw.stop();
  }
});

test('DTMF: digits the agent sends reach the customer behind the trunk as RFC 4733 events, in order, none lost or doubled', async () => {
  const gw = await gatewayWith([trunk('pbx-a', pbxA, 'udp')]);
  let agent: Agent | undefined;
  try {
    await waitFor(() => gw.gw.trunks.trunks[0]!.registration === 'registered', 8000, 'registration');
    agent = await launchAgent(gw.addrs.httpUrl, AGENT_HZ);
    await loginDemo(agent.page, 'alice', 'alice-demo');
    const closed = customer.events.filter((e) => e.type === 'CALL_CLOSED').length;
    const seenBefore = customer.events.length;
    await agent.page.getByTestId('target').fill('5552000');
    await agent.page.getByTestId('dial').click();
    await agent.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
    await settle(800);
    // Pressed on the demo's pad, as fast as a person would not: they queue and play in order.
    for (const d of ['1', '5', '9', '#', '*', '0']) await agent.page.getByTestId(`key-${d}`).click();
    await waitFor(() => customer.events.slice(seenBefore).filter((e) => e.type === 'CALL_DTMF_START').length >= 6, 8000, 'six digits at the customer').catch(() => undefined);
    await settle(500);
    const digits = customer.events.slice(seenBefore).filter((e) => e.type === 'CALL_DTMF_START').map((e) => String(e.param));
    console.log(`# DTMF: customer's phone detected ${JSON.stringify(digits)}`);
    assert.deepEqual(digits, ['1', '5', '9', '#', '*', '0']);
    await agent.page.getByTestId('hangup').click();
    await customer.waitEvent(() => customer.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
  } finally {
    await agent?.close();
    await gw.stop();
  }
});

test('an unknown DID from the trunk is rejected with 404 and a log line', async () => {
  const gw = await gatewayWith([trunk('pbx-a', pbxA, 'udp', { dids: { '5551999': '1002' } })]);
  try {
    const t = gw.gw.trunks.trunks[0]!;
    await waitFor(() => t.registration === 'registered', 8000, 'registration');
    const closed = customer.events.filter((e) => e.type === 'CALL_CLOSED').length;
    await customer.command('dial', `sip:5551000@127.0.0.1:${pbxA.port}`);
    await customer.waitEvent(() => customer.events.filter((e) => e.type === 'CALL_CLOSED').length > closed, 10_000);
    const last = customer.events.filter((e) => e.type === 'CALL_CLOSED').at(-1)!;
    assert.match(String(last.param ?? ''), /404|Unknown DID/i, `customer sees the rejection: ${JSON.stringify(last)}`);
    assert.equal(t.callsIn, 0);
  } finally {
    await gw.stop();
  }
});

test('failover: PBX A stops → calls go through PBX B within the detection time; A returns → used again', async () => {
  const gw = await gatewayWith([trunk('pbx-a', pbxA, 'udp', { priority: 1 }), trunk('pbx-b', pbxB, 'udp', { priority: 2 })]);
  const carried: string[] = [];
  gw.gw.b2bua.on('callEnded', (c) => carried.push(c.trunk ?? 'none'));
  const [a, b] = gw.gw.trunks.trunks as [typeof gw.gw.trunks.trunks[0], typeof gw.gw.trunks.trunks[0]];
  const callCustomer = async () => {
    const r = await sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-reinvite-bye.xml', '-s', '5552000', '-au', 'deskphone', '-ap', 'deskphone-demo',
      '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '20s']).done;
    assert.equal(r.code, 0, `call to the customer failed:\n${r.out.slice(-2500)}`);
    await waitFor(() => carried.length > 0, 3000, 'call record');
    return carried.pop();
  };
  try {
    await waitFor(() => a.registration === 'registered' && b.registration === 'registered', 8000, 'both trunks registered');
    assert.equal(await callCustomer(), 'pbx-a', 'the preferred trunk carries calls');

    await pbxA.stop();
    const detect = await waitFor(() => a.health === 'down', 10_000, 'PBX A marked down');
    console.log(`# failover: PBX A marked down ${detect.toFixed(0)} ms after it stopped (OPTIONS every 1 s, 2 misses)`);
    assert.ok(detect <= 3000, `detected within the configured time (2 misses × 1 s, plus up to one interval of phase), took ${detect} ms`);
    assert.equal(await callCustomer(), 'pbx-b', 'new calls complete through PBX B');

    const regsBefore = a.registrations;
    const restarted = performance.now();
    await pbxA.start();
    // PBX A lost its registrations with the restart: the gateway must register again, and so must
    // the customer's phone (restarted here; its own re-registration interval is 10 minutes).
    await customer.stop();
    customer = await Baresip.start({
      name: 'customer', user: '5552000', password: 'customer-secret', gatewayPort: pbxA.port, toneHz: CUSTOMER_HZ, extraRegistrarPorts: [pbxB.port],
    });
    await waitFor(() => a.health === 'up' && a.registrations > regsBefore, 15_000, 'PBX A up and registered again');
    const back = performance.now() - restarted;
    await settle(500);
    console.log(`# failover: PBX A up and registered again ${back.toFixed(0)} ms after restart`);
    assert.equal(await callCustomer(), 'pbx-a', 'the restored trunk is used again');
    const status = (await (await fetch(new URL('/api/health', gw.addrs.httpUrl))).json()) as { trunks: Array<{ name: string; health: string; registration: string; callsOut: number }> };
    assert.deepEqual(status.trunks.map((t) => [t.name, t.health, t.registration, t.callsOut]), [['pbx-a', 'up', 'registered', 2], ['pbx-b', 'up', 'registered', 1]]);
  } finally {
    await gw.stop();
  }
});

test('calling rights: an agent dialling +900… through the PBX trunk gets 403 and the PBX sees no INVITE; a national number goes through', async () => {
  const gw = await gatewayWith([trunk('pbx-a-rights', pbxA, 'udp')]);
  let agent: Agent | undefined;
  try {
    const t = gw.gw.trunks.trunks[0]!;
    await waitFor(() => t.registration === 'registered', 8000, 'trunk registration');
    agent = await launchAgent(gw.addrs.httpUrl, AGENT_HZ);
    await loginDemo(agent.page, 'alice', 'alice-demo');
    const pbxInvites = () => (pbxA.log.match(/PBX: INVITE sip:\+?900/g) ?? []).length;
    const before = pbxInvites();
    await agent.page.getByTestId('target').fill('+9005550100');
    await agent.page.getByTestId('dial').click();
    const err = agent.page.getByTestId('error');
    await err.waitFor({ state: 'visible', timeout: 5000 });
    assert.equal(await err.getAttribute('data-code'), 'SB_FORBIDDEN');
    assert.match((await err.textContent()) ?? '', /403 Premium Numbers Not Allowed/);
    await settle(500);
    assert.equal(pbxInvites(), before, 'the PBX never saw an INVITE for the premium number');
    const [rec] = gw.gw.center.store.calls({ party: '+9005550100' });
    assert.deepEqual([rec?.outcome, rec?.endStatus, rec?.endReason, rec?.caller], ['refused', 403, 'Premium Numbers Not Allowed', 'alice']);
    // A national number is allowed: the customer answers.
    await agent.page.getByTestId('target').fill('5552000');
    await agent.page.getByTestId('dial').click();
    await agent.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
    assert.match(pbxA.log, /PBX: INVITE sip:5552000/);
    await agent.page.getByTestId('hangup').click();
    await agent.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  } finally {
    await agent?.close();
    await gw.stop();
  }
});
