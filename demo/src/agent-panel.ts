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

function cell(row: HTMLTableRowElement, text: string, state?: string): void {
  const td = row.insertCell();
  td.textContent = text;
  if (state) td.dataset.state = state;
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
    if ([...select.options].some((o) => o.value === value)) select.value = value;
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

  const onStats = (st: CenterStatistics) => {
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
      cell(row, `${s.serviceLevel}% / ${s.serviceLevelSeconds}s`);
      cell(row, `${s.agentsAvailable}/${s.agentsStaffed}`);
    }
    const a = $<HTMLTableSectionElement>('agent-stats');
    a.replaceChildren();
    for (const s of st.agents) {
      const row = a.insertRow();
      row.dataset.agent = s.username;
      cell(row, s.username);
      cell(row, s.reason ? `${s.state} (${s.reason})` : s.state, s.state);
      cell(row, duration(s.timeInStateMs));
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
