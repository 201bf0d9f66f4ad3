/**
 * JsSIP 3.13 in Chromium: the standard SIP-over-WebSocket client that nobody here wrote. The
 * library is bundled once with esbuild into a page the gateway serves (`staticDirs`), and the
 * page exposes a small driver (`window.sb`) the tests call through Playwright: register with
 * digest, call, hold/unhold by re-INVITE or UPDATE, ICE restart, and the remote audio stream.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import type { Page } from 'playwright-core';
import { WORK } from './browser.js';

/** The directory to serve (prefix `/jssip/`): `index.html` and `jssip.js`. */
export function jssipPageDir(): string {
  const dir = path.join(WORK, 'jssip-page');
  mkdirSync(dir, { recursive: true });
  const bundle = path.join(dir, 'jssip.js');
  if (!existsSync(bundle)) {
    buildSync({ entryPoints: [path.resolve(import.meta.dirname, '..', '..', 'node_modules', 'jssip', 'lib', 'JsSIP.js')], bundle: true, format: 'iife', globalName: 'JsSIP', outfile: bundle, platform: 'browser', minify: true, logLevel: 'error' });
  }
  writeFileSync(path.join(dir, 'index.html'), PAGE);
  return dir;
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>JsSIP test client</title></head>
<body><p id="state">idle</p><audio id="remote" autoplay></audio>
<script src="jssip.js"></script>
<script>
JsSIP.debug.disable('JsSIP:*');
const sb = (window.sb = {
  ua: null, session: null, events: [], dtmf: [],
  log(e) { sb.events.push(e); document.getElementById('state').textContent = e; },
  start(wsUrl, user, password, opts) {
    return new Promise((resolve, reject) => {
      const socket = new JsSIP.WebSocketInterface(wsUrl);
      const ua = new JsSIP.UA({ sockets: [socket], uri: 'sip:' + user + '@' + location.hostname, password, register: true, session_timers: (opts && opts.sessionTimers) || false, ...((opts && opts.ua) || {}) });
      sb.ua = ua;
      ua.on('registered', () => { sb.log('registered'); resolve(); });
      ua.on('registrationFailed', (e) => { sb.log('registrationFailed ' + e.cause); reject(new Error('registration failed: ' + e.cause)); });
      ua.on('newRTCSession', (e) => { if (e.originator === 'remote') { sb.session = e.session; sb.watch(e.session); sb.log('incoming'); } });
      ua.start();
    });
  },
  watch(s) {
    // Chromium renders (and so analyses) remote WebRTC audio only once it plays in a media element.
    const play = () => { const a = document.getElementById('remote'); if (!a.srcObject && s.connection) { a.srcObject = sb.remoteStream; a.play().catch(() => undefined); } };
    s.on('peerconnection', (e) => e.peerconnection.addEventListener('track', () => setTimeout(play, 0)));
    s.on('confirmed', () => { play(); sb.log('confirmed'); });
    s.on('ended', (e) => sb.log('ended ' + e.cause));
    s.on('failed', (e) => sb.log('failed ' + e.cause));
    s.on('hold', (e) => sb.log('hold ' + e.originator));
    s.on('unhold', (e) => sb.log('unhold ' + e.originator));
    s.on('newDTMF', (e) => { if (e.originator === 'remote') sb.dtmf.push(e.dtmf.tone); });
  },
  call(target) {
    return new Promise((resolve, reject) => {
      const s = sb.ua.call('sip:' + target + '@' + location.hostname, { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } });
      sb.session = s;
      sb.watch(s);
      s.on('confirmed', () => resolve());
      s.on('failed', (e) => reject(new Error('call failed: ' + e.cause)));
    });
  },
  answer() { sb.session.answer({ mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } }); },
  hold(useUpdate) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('hold: no answer in 5 s')), 5000);
      const ok = sb.session.hold({ useUpdate: !!useUpdate }, () => { clearTimeout(t); resolve(); });
      if (!ok) { clearTimeout(t); reject(new Error('hold refused by JsSIP')); }
    });
  },
  unhold(useUpdate) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('unhold: no answer in 5 s')), 5000);
      const ok = sb.session.unhold({ useUpdate: !!useUpdate }, () => { clearTimeout(t); resolve(); });
      if (!ok) { clearTimeout(t); reject(new Error('unhold refused by JsSIP')); }
    });
  },
  iceRestart() {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('renegotiate: no answer in 5 s')), 5000);
      const ok = sb.session.renegotiate({ rtcOfferConstraints: { iceRestart: true } }, () => { clearTimeout(t); resolve(); });
      if (!ok) { clearTimeout(t); reject(new Error('renegotiate refused by JsSIP')); }
    });
  },
  localIceUfrag() {
    const m = /a=ice-ufrag:(\\S+)/.exec(sb.session.connection.localDescription.sdp);
    return m && m[1];
  },
  remoteIceUfrag() {
    const m = /a=ice-ufrag:(\\S+)/.exec(sb.session.connection.remoteDescription.sdp);
    return m && m[1];
  },
  hangup() { sb.session.terminate(); document.getElementById('remote').srcObject = null; },
  get remoteStream() {
    const pc = sb.session && sb.session.connection;
    if (!pc) return undefined;
    return new MediaStream(pc.getReceivers().map((r) => r.track).filter(Boolean));
  },
});
</script></body></html>
`;

/** Runs `fn` in the page with the driver's result (a thin typed wrapper over `page.evaluate`). */
export function sb<T>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([f, a]) => (window as unknown as { sb: Record<string, (...x: unknown[]) => unknown> }).sb[f as string]!(...(a as unknown[])), [fn, args] as const) as Promise<T>;
}

/** Waits until the page's event log has an entry matching `re`. */
export async function waitEventLog(page: Page, re: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await page.evaluate(() => (window as unknown as { sb: { events: string[] } }).sb.events);
    if (events.some((e) => re.test(e))) return;
    if (Date.now() > deadline) throw new Error(`JsSIP page: no event ${re} in ${timeoutMs} ms; events: ${events.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
