/**
 * The demo's supervisor view (supervisors and admins): the live calls with their parties,
 * refreshed every two seconds, and monitor / whisper / barge on each; during a session, buttons
 * to switch modes and to leave.
 * Uses only the public API of @switchboard/sdk.
 */
import type { LiveCall, Softphone, Supervision, SupervisionMode } from '@switchboard/sdk';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const MODES: SupervisionMode[] = ['monitor', 'whisper', 'barge'];

/** Wires the panel; returns the current supervision (for tests) and a detach function. */
export function attachSupervisorPanel(phone: Softphone, showError: (err: unknown) => void): { readonly session: Supervision | undefined; detach(): void } {
  let session: Supervision | undefined;
  $('supervisor').hidden = false;

  const renderSession = () => {
    $('sup-session').hidden = !session;
    if (!session) return;
    $('sup-target').textContent = session.target;
    $('sup-mode').textContent = session.mode;
    for (const m of MODES) ($(`sup-${m}`) as HTMLButtonElement).disabled = session.mode === m;
  };

  const start = async (target: string, mode: SupervisionMode) => {
    showError(undefined);
    if (session?.active) await session.end().catch(() => undefined);
    try {
      const s = await phone.supervisor.start(target, mode);
      session = s;
      s.on('modeChanged', renderSession);
      s.on('ended', () => {
        if (session === s) session = undefined;
        renderSession();
      });
      renderSession();
    } catch (err) {
      showError(err);
    }
  };

  const renderCalls = (calls: LiveCall[]) => {
    const body = $<HTMLTableSectionElement>('live-calls');
    body.replaceChildren();
    for (const c of calls) {
      if (c.state !== 'connected') continue;
      const row = body.insertRow();
      row.dataset.call = c.id;
      const agent = c.agent ?? c.parties.find((p) => p.role === 'callee')?.name ?? '';
      row.dataset.agent = agent;
      row.insertCell().textContent = agent;
      // Each party with its line as the gateway hears it (MOS, and what is wrong when it is poor).
      const line = (q: (typeof c.parties)[number]['quality']) => (q ? ` · MOS ${q.mos.toFixed(1)}${q.lossPct >= 5 ? `, ${q.lossPct.toFixed(0)} % lost` : ''}${q.jitterMs >= 30 ? `, jitter ${q.jitterMs.toFixed(0)} ms` : ''}` : '');
      row.insertCell().textContent = c.parties.map((p) => (p.role === 'supervisor' ? `${p.name} (${p.mode})` : `${p.name}${line(p.quality)}`)).join(', ');
      const actions = row.insertCell();
      for (const m of MODES) {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = m[0]!.toUpperCase() + m.slice(1);
        b.dataset.testid = `${m}-${agent}`;
        b.addEventListener('click', () => void start(c.id, m));
        actions.append(b, ' ');
      }
    }
  };
  const refresh = () => phone.supervisor.calls().then(renderCalls, showError);
  const timer = setInterval(() => void refresh(), 2000);
  void refresh();

  const onMode = (m: SupervisionMode) => () => session?.setMode(m).catch(showError);
  const handlers = MODES.map((m) => [m, onMode(m)] as const);
  for (const [m, h] of handlers) $(`sup-${m}`).addEventListener('click', h);
  const onEnd = () => session?.end().catch(showError);
  $('sup-end').addEventListener('click', onEnd);
  const onRefresh = () => void refresh();
  $('sup-refresh').addEventListener('click', onRefresh);

  return {
    get session() {
      return session;
    },
    detach() {
      clearInterval(timer);
      for (const [m, h] of handlers) $(`sup-${m}`).removeEventListener('click', h);
      $('sup-end').removeEventListener('click', onEnd);
      $('sup-refresh').removeEventListener('click', onRefresh);
      $('supervisor').hidden = true;
      $('sup-session').hidden = true;
    },
  };
}
