/**
 * The SIP side of bench:media's load clients (bench/webrtc-load.ts, bench/rtpengine-load.ts): one
 * call over a SIP WebSocket the way a browser places it (RFC 7118) — INVITE with the offer, the
 * final answer, ACK — and 200 for whatever the far end sends inside the dialog.
 */
import { randomBytes } from 'node:crypto';
import type WebSocket from 'ws';

/** A random token for tags, branches and Call-IDs. */
export const tok = (): string => randomBytes(6).toString('hex');

const header = (msg: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(msg.split('\r\n\r\n')[0]!)?.[1]?.trim();

/** Answers requests the gateway sends inside a dialog (OPTIONS probes, INFO) with 200. */
function answerRequest(ws: WebSocket, msg: string): void {
  const keep = msg.split('\r\n').filter((l) => /^(via|from|to|call-id|cseq):/i.test(l));
  ws.send(['SIP/2.0 200 OK', ...keep, 'Content-Length: 0', '', ''].join('\r\n'));
}

/** A placed call's dialog: what a BYE needs, the answer SDP and the INVITE → 200 OK time. */
export interface PlacedCall {
  toTag?: string | undefined;
  contact?: string | undefined;
  answer: string;
  setupMs: number;
}

/** INVITE with `sdp` on `ws`, wait (20 s at most) for the final answer, ACK it. Rejects on ≥ 300. */
export async function invite(ws: WebSocket, call: { target: string; host: string; callId: string; fromTag: string; sdp: string }): Promise<PlacedCall> {
  const { target, host, callId, fromTag, sdp } = call;
  const viaHost = `${tok()}.invalid`;
  const req = [
    `INVITE sip:${target}@${host} SIP/2.0`, `Via: SIP/2.0/WS ${viaHost};branch=z9hG4bK${tok()}`, 'Max-Forwards: 70', `From: <sip:load@${host}>;tag=${fromTag}`,
    `To: <sip:${target}@${host}>`, `Call-ID: ${callId}`, 'CSeq: 1 INVITE', `Contact: <sip:load@${viaHost};transport=ws>`, 'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(sdp)}`, '', sdp,
  ].join('\r\n');
  const t0 = performance.now();
  const placed = await new Promise<PlacedCall>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer in 20 s')), 20_000);
    ws.on('message', (data) => {
      const msg = data.toString();
      if (!msg.startsWith('SIP/2.0')) return answerRequest(ws, msg);
      const status = Number(msg.slice(8, 11));
      if (status < 200 || !/^CSeq:\s*1 INVITE/im.test(msg)) return;
      clearTimeout(timer);
      if (status >= 300) return reject(new Error(msg.split('\r\n')[0]));
      resolve({
        toTag: /;tag=([^;\s>]+)/.exec(header(msg, 'To') ?? '')?.[1],
        contact: /<([^>]+)>/.exec(header(msg, 'Contact') ?? '')?.[1],
        answer: msg.slice(msg.indexOf('\r\n\r\n') + 4),
        setupMs: performance.now() - t0,
      });
    });
    ws.send(req);
  });
  ws.send([`ACK ${placed.contact} SIP/2.0`, `Via: SIP/2.0/WS ${viaHost};branch=z9hG4bK${tok()}`, 'Max-Forwards: 70', `From: <sip:load@${host}>;tag=${fromTag}`, `To: <sip:${target}@${host}>;tag=${placed.toTag}`, `Call-ID: ${callId}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'));
  return placed;
}
