/**
 * The demo's conference panel for agents: add a party to the current call, merge a consultation
 * into it, see who is in it (with mute and remove per party), and be told of supervision.
 * Leaving is the Hang up button: the others go on while at least two remain.
 * Uses only the public API of @switchboard/sdk.
 */
import type { Call, Participant } from '@switchboard/sdk';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Shows `call`'s conference state in the panel and keeps it current until the call ends. */
export function showConference(call: Call, showError: (err: unknown) => void): void {
  const render = () => {
    const list = $<HTMLUListElement>('participants');
    list.replaceChildren();
    const parties = call.participants;
    $('participants-box').hidden = parties.length === 0;
    for (const p of parties) list.append(row(call, p, showError));
  };
  call.on('participantJoined', render);
  call.on('participantLeft', render);
  call.on('participantUpdated', render);
  call.on('supervised', (info) => {
    const el = $('supervised');
    el.hidden = !info;
    el.textContent = info ? `${info.supervisor} is listening (${info.mode})` : '';
  });
  call.on('ended', () => {
    $('participants').replaceChildren();
    $('participants-box').hidden = true;
    $('supervised').hidden = true;
  });
  render();
}

function row(call: Call, p: Participant, showError: (err: unknown) => void): HTMLLIElement {
  const li = document.createElement('li');
  li.dataset.testid = 'participant';
  li.dataset.name = p.name;
  li.dataset.id = p.id;
  const state = [p.self ? 'you' : p.role === 'supervisor' ? `supervisor, ${p.mode}` : '', p.muted ? 'muted' : '', p.onHold ? 'on hold' : ''].filter(Boolean).join(', ');
  li.append(`${p.name}${state ? ` (${state})` : ''} `);
  if (!p.self) {
    const mute = document.createElement('button');
    mute.type = 'button';
    mute.textContent = p.serverMuted ? 'Unmute' : 'Mute';
    mute.dataset.testid = `mute-${p.name}`;
    mute.addEventListener('click', () => call.muteParticipant(p.id, !p.serverMuted).catch(showError));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Remove';
    remove.dataset.testid = `remove-${p.name}`;
    remove.addEventListener('click', () => call.removeParticipant(p.id).catch(showError));
    li.append(mute, ' ', remove);
  }
  return li;
}
