/**
 * What makes the demo a desktop an agent can use all day: the call history, keyboard shortcuts
 * and the wrap-up countdown. Each piece uses only the public SDK API.
 */
import { AgentState, CallState, type Call, type Softphone } from '@switchboard/sdk';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** Adds an ended call to the history list (newest first, 20 kept). */
export function recordHistory(call: Call): void {
  call.on('ended', (info) => {
    const list = $('history');
    const li = document.createElement('li');
    li.dataset.testid = 'history-entry';
    if (call.id) li.dataset.callId = call.id;
    const answered = call.connectedAt !== undefined;
    const arrow = call.direction === 'incoming' ? '↙' : '↗';
    const what = answered ? duration(Date.now() - call.connectedAt!) : info.error ? info.error.code : info.answeredElsewhere ? 'answered elsewhere' : 'not answered';
    li.textContent = `${arrow} ${call.remoteDisplayName ?? call.remoteUser} · ${what} · ${new Date().toLocaleTimeString()}`;
    li.title = call.id ? `Call ${call.id}` : '';
    list.prepend(li);
    while (list.children.length > 20) list.lastElementChild!.remove();
    $('history-box').hidden = false;
  });
}

/** What the shortcuts act on. */
export interface ShortcutTarget {
  ringing(): Call | undefined;
  current(): Call | undefined;
}

/**
 * Keyboard shortcuts (Alt+key, so typing in a field is never taken): A answer, R reject,
 * H hang up, M mute/unmute, L hold/resume. Each presses the button a mouse user would, so the
 * page does exactly the same thing either way.
 */
export function attachShortcuts(t: ShortcutTarget): void {
  const keys: Record<string, string> = { a: 'answer', r: 'reject', h: 'hangup', m: 'mute', l: 'hold' };
  document.addEventListener('keydown', (ev) => {
    if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const id = keys[ev.key.toLowerCase()];
    if (!id) return;
    const button = $(id) as HTMLButtonElement;
    const usable = id === 'answer' || id === 'reject' ? t.ringing()?.state === CallState.Ringing : t.current() !== undefined;
    if (!usable || button.disabled) return;
    ev.preventDefault();
    button.click();
  });
}

/** Counts the wrap-up time down while the agent is in wrap-up (when the gateway ends it by itself). */
export function attachWrapUpCountdown(phone: Softphone): () => void {
  const tick = () => {
    const s = phone.agent.status;
    const total = phone.agent.wrapUpSeconds;
    const el = $('wrapup-countdown');
    if (!s || s.state !== AgentState.WrapUp || total <= 0) {
      el.textContent = '';
      return;
    }
    const left = Math.max(0, Math.ceil(total - (Date.now() - s.since) / 1000));
    el.textContent = `available again in ${left} s`;
  };
  const timer = setInterval(tick, 500);
  tick();
  return () => clearInterval(timer);
}
