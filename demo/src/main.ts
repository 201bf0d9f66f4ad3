/**
 * The demo softphone: login, status, dial pad (DTMF during a call), incoming call, call timer,
 * mute, hold with music, transfers, conference (add, merge, participants), hang up; and for
 * supervisors the live calls with monitor / whisper / barge.
 * Uses only the public API of @switchboard/sdk.
 */
import { CallState, ConnectionState, login, RegistrationState, Softphone, SwitchboardError, type Call, type Ringer, type Supervision } from '@switchboard/sdk';
import { attachAgentPanels } from './agent-panel.js';
import { showConference } from './conference-panel.js';
import { attachSupervisorPanel } from './supervisor-panel.js';
import { attachShortcuts, attachWrapUpCountdown, recordHistory } from './desktop.js';
import { Headsets } from '@switchboard/sdk/headset';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const gatewayUrl = location.origin;

let phone: Softphone | undefined;
let current: Call | undefined;
let ringing: Call | undefined;
let timer: ReturnType<typeof setInterval> | undefined;
let panels: ReturnType<typeof attachAgentPanels> | undefined;
let supervisorPanel: ReturnType<typeof attachSupervisorPanel> | undefined;
let stopCountdown: (() => void) | undefined;

/** Exposed for automated tests and debugging in the console. */
declare global {
  interface Window {
    demo: { readonly phone: Softphone | undefined; readonly call: Call | undefined; readonly consult: Call | undefined; readonly supervision: Supervision | undefined; readonly ringtone: Ringer | undefined; readonly headsets: Headsets | undefined };
  }
}
window.demo = {
  get phone() {
    return phone;
  },
  get call() {
    return current;
  },
  get consult() {
    return consultCall;
  },
  get supervision() {
    return supervisorPanel?.session;
  },
  get headsets() {
    return headsets;
  },
  get ringtone() {
    return phone?.audio.ringer;
  },
};

/** The banner over everything while the connection is down (calls stay up meanwhile). */
function banner(text: string | undefined): void {
  $('banner').hidden = !text;
  $('banner').textContent = text ?? '';
}

function showError(err: unknown): void {
  const el = $('error');
  if (!err) {
    el.hidden = true;
    return;
  }
  const message = err instanceof SwitchboardError ? `${err.message} — ${err.solution}` : String((err as Error)?.message ?? err);
  el.textContent = message;
  el.dataset.code = err instanceof SwitchboardError ? err.code : 'UNKNOWN';
  el.hidden = false;
}

function setStatus(text: string, cls = ''): void {
  const el = $('status');
  el.textContent = text;
  el.className = `status ${cls}`;
}

function renderCall(): void {
  const call = current;
  $('active').hidden = !call;
  if (!call) {
    clearInterval(timer);
    timer = undefined;
    return;
  }
  $('active-party').textContent = call.remoteDisplayName ?? call.remoteUser;
  $('active-state').textContent = call.state;
  $('mute').textContent = call.muted ? 'Unmute' : 'Mute';
  const h = call.holdState;
  $('hold').textContent = h.onHold && h.by === 'local' ? 'Resume' : 'Hold';
  ($('hold') as HTMLButtonElement).disabled = call.state !== CallState.Connected || (h.onHold && h.by === 'remote');
  $('hold-state').hidden = !h.onHold;
  $('hold-state').textContent = h.by === 'local' ? 'On hold — the caller hears music' : 'You are on hold';
  if (call.state === CallState.Connected && !timer) {
    timer = setInterval(() => {
      const s = Math.floor((Date.now() - (call.connectedAt ?? Date.now())) / 1000);
      $('timer').textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    }, 250);
  }
}

function adopt(call: Call): void {
  current = call;
  // Incoming calls are in the history from the moment they ring (taken or not).
  if (call.direction === 'outgoing') recordHistory(call);
  $('timer').textContent = '00:00';
  call.on('stateChanged', renderCall);
  call.on('muteChanged', renderCall);
  call.on('holdChanged', renderCall);
  $('dtmf-received').textContent = '';
  call.on('dtmf', (d) => ($('dtmf-received').textContent += d));
  // The line's quality: MOS and what is wrong with it, in words an agent can act on.
  const WARNING_TEXT: Record<string, string> = { 'high-rtt': 'long delay', 'high-jitter': 'uneven audio', 'high-loss': 'audio dropping out', 'low-mos': 'poor line', 'mic-silent': 'your microphone is silent' };
  $('call-quality').textContent = '';
  call.on('quality', (q) => {
    $('call-quality').textContent = `Line ${q.mos.toFixed(1)}/4.5${q.warnings.length ? ` — ${q.warnings.map((w) => WARNING_TEXT[w] ?? w).join(', ')}` : ''}`;
    $('call-quality').dataset.warnings = q.warnings.join(' ');
  });
  showConference(call, showError);
  call.on('ended', (info) => {
    if (info.error) showError(info.error);
    if (current === call) current = undefined;
    renderCall();
    setStatus('Online', 'online');
  });
  setStatus('On a call', 'busy');
  renderCall();
}

$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError(undefined);
  const form = new FormData(ev.target as HTMLFormElement);
  const username = String(form.get('username') ?? '');
  const password = String(form.get('password') ?? '');
  setStatus('Logging in…');
  try {
    const { token, role } = await login({ url: gatewayUrl, username, password });
    phone = new Softphone({ url: gatewayUrl, token });
    phone.on('registrationStateChanged', (state, error) => {
      if (state === RegistrationState.Registered) setStatus(current ? 'On a call' : 'Online', current ? 'busy' : 'online');
      else if (state === RegistrationState.Unregistered && phone?.connectionState !== ConnectionState.Reconnecting) setStatus('Offline');
      if (error && phone?.connectionState !== ConnectionState.Reconnecting) showError(error);
    });
    // A dropped connection: calls stay up while the SDK reconnects on its own.
    phone.on('reconnecting', ({ attempt }) => {
      setStatus(`Reconnecting… (attempt ${attempt})`, 'warn');
      banner('Connection lost — reconnecting. Calls in progress stay up.');
    });
    phone.on('reconnected', () => {
      banner(undefined);
      // Clear connection errors only: a call lost meanwhile keeps its message (SB_CALL_LOST).
      if (/^SB_(CONNECTION|REGISTRATION)_/.test($('error').dataset.code ?? '')) showError(undefined);
      setStatus(current ? 'On a call' : 'Online', current ? 'busy' : 'online');
    });
    phone.on('disconnected', (error) => {
      banner(undefined);
      if (error) {
        setStatus('Disconnected', 'error');
        showError(error);
      }
    });
    // The SDK rings (phone.audio.ringer); a browser that blocks sound until a click is reported.
    phone.audio.on('autoplayBlocked', () => ($('sound-blocked').hidden = false));
    // Level meters of the active call (the microphone as sent, the far end as heard).
    phone.audio.on('level', (l) => {
      ($('level-in') as HTMLMeterElement).value = l.input;
      ($('level-out') as HTMLMeterElement).value = l.output;
    });
    phone.on('incoming', (call) => {
      ringing = call;
      $('incoming-from').textContent = call.remoteDisplayName ?? call.remoteUser;
      $('incoming-queue').textContent = call.queue ? `via ${call.queue.name}, waited ${call.queue.waitSeconds} s` : '';
      if (call.queue) panels?.queueCall(call);
      // A screen pop: what was dialled, and what the carrier, an IVR or a CRM attached.
      const data = call.data;
      const facts = data ? [`dialled ${data.dialed}`, ...Object.entries(data.attributes).map(([k, v]) => `${k}: ${v}`)] : [];
      $('incoming-data').textContent = facts.join(' · ');
      $('incoming-data').hidden = !facts.length;
      $('incoming').hidden = false;
      recordHistory(call);
      call.on('stateChanged', (s) => {
        // Answered elsewhere than the Answer button (a headset's hook switch): show it as the call.
        if (s === CallState.Connected && current !== call) adopt(call);
        if (s !== CallState.Ringing) {
          $('sound-blocked').hidden = true;
          $('incoming').hidden = true;
          if (ringing === call) ringing = undefined;
        }
      });
    });
    await phone.connect();
    panels = attachAgentPanels(phone, showError);
    attachHeadsets(phone);
    void fillDevicePickers(phone).catch(() => undefined);
    phone.audio.on('deviceChanged', () => phone && void fillDevicePickers(phone));
    stopCountdown = attachWrapUpCountdown(phone);
    if (role === 'supervisor' || role === 'admin') supervisorPanel = attachSupervisorPanel(phone, showError);
    $('me').textContent = phone.user ?? username;
    $('login').hidden = true;
    $('dialer').hidden = false;
  } catch (err) {
    setStatus('Logged out');
    phone = undefined;
    showError(err);
  }
});

// Device mode: calls ring on the agent's SIP desk phone; this page shows and drives them.
$('audio-route').addEventListener('change', async (ev) => {
  const select = ev.target as HTMLSelectElement;
  showError(undefined);
  if (!phone) return;
  try {
    const info = await phone.setAudioRoute(select.value === 'device' ? 'device' : 'browser');
    $('audio-devices').textContent = info.route === 'device'
      ? `Calls ring on ${info.devices.map((d) => `${d.userAgent || 'a SIP phone'} (${d.autoAnswer === 'none' ? 'lift the handset to answer' : 'picks up when you answer here'})`).join(', ')}`
      : '';
  } catch (err) {
    select.value = phone.audioRoute;
    showError(err);
  }
});

$('dial-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError(undefined);
  if (!phone) return;
  try {
    adopt(await phone.dial(($('target') as HTMLInputElement).value));
  } catch (err) {
    showError(err);
  }
});

$('answer').addEventListener('click', async () => {
  const call = ringing;
  if (!call) return;
  showError(undefined);
  try {
    adopt(call);
    await call.answer();
  } catch (err) {
    showError(err);
  }
});

$('reject').addEventListener('click', () => ringing?.reject().catch(showError));
$('hangup').addEventListener('click', () => current?.hangup().catch(showError));
$('mute').addEventListener('click', () => {
  if (!current) return;
  try {
    if (current.muted) current.unmute();
    else current.mute();
  } catch (err) {
    showError(err);
  }
});
let consultCall: Call | undefined;
function renderConsult(): void {
  $('consult-panel').hidden = !consultCall;
  if (!consultCall) return;
  $('consult-party').textContent = consultCall.remoteDisplayName ?? consultCall.remoteUser;
  const h = consultCall.holdState;
  $('consult-state').textContent = h.onHold ? `${consultCall.state}, on hold` : consultCall.state;
}
$('consult').addEventListener('click', async () => {
  const target = ($('transfer-target') as HTMLInputElement).value;
  if (!current) return;
  try {
    const c = await current.consult(target);
    consultCall = c;
    c.on('stateChanged', renderConsult);
    c.on('holdChanged', renderConsult);
    c.on('ended', (info) => {
      if (info.error) showError(info.error);
      if (consultCall === c) consultCall = undefined;
      renderConsult();
    });
    renderConsult();
  } catch (err) {
    showError(err);
  }
});
$('swap').addEventListener('click', () => {
  if (current && consultCall) current.swap(consultCall).catch(showError);
});
$('complete').addEventListener('click', () => {
  if (current && consultCall) current.completeTransfer(consultCall).catch(showError);
});
$('merge').addEventListener('click', () => {
  if (current && consultCall) current.merge(consultCall).catch(showError);
});
$('add').addEventListener('click', () => {
  const target = ($('add-target') as HTMLInputElement).value;
  showError(undefined);
  current?.addParticipant(target).catch(showError);
});
$('cancel-consult').addEventListener('click', () => {
  if (current && consultCall) current.cancelConsult(consultCall).catch(showError);
});
$('transfer').addEventListener('click', () => {
  const target = ($('transfer-target') as HTMLInputElement).value;
  current?.transfer(target).catch(showError);
});
$('hold').addEventListener('click', () => {
  if (!current) return;
  const h = current.holdState;
  (h.onHold && h.by === 'local' ? current.resume() : current.hold()).catch(showError);
});
// USB headsets (WebHID): the hook switch answers and hangs up, mute mutes, the lights follow.
let headsets: Headsets | undefined;
function attachHeadsets(p: Softphone): void {
  headsets = new Headsets(p);
  const h = headsets;
  const show = () => ($('headset-status').textContent = h.list.map((x) => `${x.productName} connected`).join(', '));
  if (!h.supported) {
    $('headset-connect').hidden = true;
    return;
  }
  h.on('attached', show);
  h.on('detached', show);
  h.on('error', (err) => showError(err));
  void h.restore().then(show);
}
$('headset-connect').addEventListener('click', () => {
  headsets?.request().catch(showError);
});

$('logout').addEventListener('click', async () => {
  stopCountdown?.();
  stopCountdown = undefined;
  panels?.detach();
  panels = undefined;
  supervisorPanel?.detach();
  supervisorPanel = undefined;
  await headsets?.close();
  headsets = undefined;
  $('headset-status').textContent = '';
  await phone?.disconnect().catch(showError);
  phone = undefined;
  $('dialer').hidden = true;
  $('login').hidden = false;
  setStatus('Logged out');
});

const pad = $('pad');
for (const d of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = d;
  b.dataset.testid = `key-${d}`;
  // During a connected call the pad sends DTMF (an IVR's menu); otherwise it types the number.
  b.addEventListener('click', () => {
    if (current?.state === CallState.Connected) {
      try {
        current.sendDigits(d);
      } catch (err) {
        showError(err);
      }
    } else {
      ($('target') as HTMLInputElement).value += d;
    }
  });
  pad.append(b);
}

attachShortcuts({ ringing: () => ringing, current: () => current });
$('sound-blocked').addEventListener('click', () => {
  const p = phone;
  if (!p) return;
  void p.audio.unlock().then(async (ok) => {
    if (ok && ringing) await p.audio.ringer.start();
    $('sound-blocked').hidden = ok;
  });
});

// Audio devices: microphone, call audio, ringer (labels appear once the microphone is allowed).
async function fillDevicePickers(p: Softphone): Promise<void> {
  const { inputs, outputs } = await p.audio.list();
  const fill = (id: string, list: Array<{ deviceId: string; label: string }>, current: string) => {
    const sel = $(id) as HTMLSelectElement;
    sel.replaceChildren(...[{ deviceId: '', label: 'Default' }, ...list.filter((d) => d.deviceId !== 'default')].map((d, i) => {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = d.label || `Device ${i}`;
      o.selected = d.deviceId === current;
      return o;
    }));
  };
  fill('mic-select', inputs, p.audio.inputDeviceId);
  fill('speaker-select', outputs, p.audio.outputDeviceId);
  fill('ringer-select', outputs, p.audio.ringerDeviceId);
}
for (const [id, set] of [['mic-select', 'setInputDevice'], ['speaker-select', 'setOutputDevice'], ['ringer-select', 'setRingerDevice']] as const) {
  $(id).addEventListener('change', (ev) => {
    const p = phone;
    if (!p) return;
    p.audio[set]((ev.target as HTMLSelectElement).value).catch((err: unknown) => {
      showError(err);
      void fillDevicePickers(p);
    });
  });
}
// The line check before a shift: an echo call, and what it measured.
$('preflight').addEventListener('click', async () => {
  if (!phone) return;
  $('preflight-report').textContent = 'Checking…';
  try {
    const r = await phone.preflight({ seconds: 4 });
    $('preflight-report').textContent = `MOS ${r.mos.toFixed(1)} · RTT ${Math.round(r.rttMs)} ms · jitter ${r.jitterMs.toFixed(0)} ms · loss ${r.lossPct.toFixed(1)} % · ${r.codec}${r.micLevel !== undefined ? ` · microphone ${r.micLevel > 0.001 ? 'OK' : 'silent'}` : ''}`;
  } catch (err) {
    $('preflight-report').textContent = 'Line check failed';
    showError(err);
  }
});
$('devices-refresh').addEventListener('click', () => phone && void fillDevicePickers(phone).catch(showError));
