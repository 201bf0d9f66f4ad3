/**
 * The demo's contact-center panels: the agent state selector (with not-ready reasons), the
 * wrap-up panel after a queue call, and live queue and agent statistics.
 * Uses only the public API of @switchboard/sdk.
 */
import { AgentState, type AgentStatus, type Call, type CenterStatistics, type Softphone } from '@switchboard/sdk';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function cell(row: HTMLTableRowElement, text: string, state?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (state) td.dataset.state = state;
  return td;
}

/** Wires the panels to a connected softphone; returns a function that remembers queue calls for wrap-up. */
export function attachAgentPanels(phone: Softphone, showError: (err: unknown) => void): { queueCall(call: Call): void; detach(): void } {
  const agent = phone.agent;
  let lastQueueCall: Call | undefined;
  const select = $<HTMLSelectElement>('agent-select');
  select.replaceChildren();
  const option = (value: string, label: string) => {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    select.append(o);
  };
  option('available', 'Available');
  for (const r of agent.reasons) option(`not-ready:${r}`, `Not ready — ${r}`);
  option('offline', 'Offline');
  const codes = $<HTMLSelectElement>('wrapup-code');
  codes.replaceChildren();
  for (const c of ['', ...agent.wrapUpCodes]) {
    const o = document.createElement('option');
    o.value = c;
    o.textContent = c || '(no code)';
    codes.append(o);
  }

  const render = (s: AgentStatus | undefined) => {
    $('agent').hidden = !s;
    if (!s) return;
    $('agent-state').textContent = s.state;
    $('agent-state').dataset.state = s.state;
    $('agent-reason').textContent = s.reason ? `(${s.reason})` : '';
    $('agent-since').textContent = `since ${new Date(s.since).toLocaleTimeString()}`;
    const value = s.state === AgentState.NotReady ? `not-ready:${s.reason ?? ''}` : s.state;
    // States the ACD sets (ringing, on-call, wrap-up) show as a disabled entry of their own.
    for (const o of [...select.options]) if (o.dataset.acd) o.remove();
    if (![...select.options].some((o) => o.value === value)) {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = s.state === AgentState.WrapUp ? 'Wrap-up (after-call work)' : s.state === AgentState.OnCall ? 'On a call' : s.state === AgentState.Ringing ? 'Ringing' : s.state;
      o.disabled = true;
      o.dataset.acd = 'true';
      select.append(o);
    }
    select.value = value;
    select.disabled = s.state === AgentState.Ringing || s.state === AgentState.OnCall;
    $('wrapup').hidden = s.state !== AgentState.WrapUp;
    if (s.state === AgentState.WrapUp) {
      $('wrapup-party').textContent = lastQueueCall ? (lastQueueCall.remoteDisplayName ?? lastQueueCall.remoteUser) : 'the last caller';
      $('wrapup-queue').textContent = lastQueueCall?.queue ? `from queue ${lastQueueCall.queue.name}` : '';
    }
  };
  const onState = (s: AgentStatus) => render(s);
  agent.on('stateChanged', onState);
  render(agent.status);

  const onChange = () => {
    const [state, reason] = select.value.split(':') as ['available' | 'not-ready' | 'offline', string | undefined];
    agent.setState(state, reason).catch((err: unknown) => {
      showError(err);
      render(agent.status);
    });
  };
  select.addEventListener('change', onChange);

  const onDone = () => {
    const code = codes.value || undefined;
    const notes = $<HTMLTextAreaElement>('wrapup-notes').value || undefined;
    const done = lastQueueCall ? lastQueueCall.wrapUp({ ...(code ? { code } : {}), ...(notes ? { notes } : {}) }) : agent.wrapUp({ ...(code ? { code } : {}), ...(notes ? { notes } : {}) });
    done.then(() => {
      $<HTMLTextAreaElement>('wrapup-notes').value = '';
      codes.value = '';
    }, showError);
  };
  $('wrapup-done').addEventListener('click', onDone);

  // "For" keeps counting between pushes (which come only when something changes), on the
  // gateway's clock: the skew between it and this browser is taken from each push's `at`.
  let skew = 0;
  const ticker = setInterval(() => {
    for (const td of document.querySelectorAll<HTMLTableCellElement>('#agent-stats td[data-since]')) td.textContent = duration(Date.now() - skew - Number(td.dataset.since));
  }, 1000);
  const onStats = (st: CenterStatistics) => {
    skew = Date.now() - st.at;
    $('stats').hidden = false;
    const q = $<HTMLTableSectionElement>('queue-stats');
    q.replaceChildren();
    for (const s of st.queues) {
      const row = q.insertRow();
      row.dataset.queue = s.name;
      cell(row, s.name);
      cell(row, String(s.waiting));
      cell(row, duration(s.longestWaitMs));
      cell(row, String(s.answered));
      cell(row, String(s.abandoned));
      cell(row, `${s.serviceLevel}%`).title = `answered within ${s.serviceLevelSeconds} s`;
      cell(row, `${s.agentsAvailable}/${s.agentsStaffed}`);
    }
    const a = $<HTMLTableSectionElement>('agent-stats');
    a.replaceChildren();
    for (const s of st.agents) {
      const row = a.insertRow();
      row.dataset.agent = s.username;
      cell(row, s.username);
      cell(row, s.reason ? `${s.state} (${s.reason})` : s.state, s.state);
      cell(row, duration(s.timeInStateMs)).dataset.since = String(s.since);
      cell(row, String(s.callsHandled));
      cell(row, duration(s.averageHandleMs));
    }
  };
  agent.on('stats', onStats);
  agent.subscribeStats().catch(() => undefined);

  return {
    queueCall(call: Call) {
      lastQueueCall = call;
    },
    detach() {
      clearInterval(ticker);
      agent.off('stateChanged', onState);
      agent.off('stats', onStats);
      select.removeEventListener('change', onChange);
      $('wrapup-done').removeEventListener('click', onDone);
      $('agent').hidden = true;
      $('wrapup').hidden = true;
      $('stats').hidden = true;
    },
  };
}
