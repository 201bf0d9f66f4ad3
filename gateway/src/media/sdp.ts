/**
 * Just enough SDP (RFC 8866) and offer/answer (RFC 3264) for G.711 audio: read the audio
 * m-line, its connection address, payload types and direction; write plain-RTP offers/answers.
 */

/** Codecs the gateway relays. Static payload types per RFC 3551 §6. */
export type CodecName = 'PCMU' | 'PCMA';
export const STATIC_PT: Record<CodecName, number> = { PCMU: 0, PCMA: 8 };
export const SUPPORTED_CODECS: readonly CodecName[] = ['PCMU', 'PCMA'];

/** Media direction attribute (RFC 3264 §5.1). */
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** What the bridge needs to know about a session description. */
export interface AudioDescription {
  /** True for WebRTC (DTLS-SRTP, `UDP/TLS/RTP/SAVPF`). */
  webrtc: boolean;
  address: string;
  port: number;
  /** Payload types in preference order. */
  payloadTypes: number[];
  /** Codec name → payload type, for the codecs we support. */
  codecs: Array<{ name: CodecName; pt: number }>;
  /** RFC 4733 telephone-event payload type, if offered at 8 kHz. */
  telephoneEvent?: number;
  direction: Direction;
}

/** Error for SDP we cannot use; the message becomes the SIP reason phrase. */
export class SdpError extends Error {
  override name = 'SdpError';
}

/** Parses the first audio m-line of `sdp`. Throws {@link SdpError}. */
export function parseAudio(sdp: string): AudioDescription {
  const lines = sdp.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (!lines[0]?.startsWith('v=0')) throw new SdpError('SDP must start with v=0');
  let sessionAddr: string | undefined;
  let sessionDir: Direction | undefined;
  let i = 0;
  for (; i < lines.length && !lines[i]!.startsWith('m='); i++) {
    const l = lines[i]!;
    if (l.startsWith('c=')) sessionAddr = parseConnection(l);
    const d = dirOf(l);
    if (d) sessionDir = d;
  }
  for (; i < lines.length; i++) {
    const m = /^m=audio (\d+)(?:\/\d+)? (\S+) ([\d ]+)$/.exec(lines[i]!);
    if (!m) continue;
    const proto = m[2]!;
    const port = Number(m[1]);
    const payloadTypes = m[3]!.trim().split(/\s+/).map(Number);
    let address = sessionAddr;
    let direction = sessionDir ?? 'sendrecv';
    const rtpmap = new Map<number, string>();
    for (let j = i + 1; j < lines.length && !lines[j]!.startsWith('m='); j++) {
      const l = lines[j]!;
      if (l.startsWith('c=')) address = parseConnection(l);
      const d = dirOf(l);
      if (d) direction = d;
      const r = /^a=rtpmap:(\d+) ([^/\s]+)\/(\d+)/.exec(l);
      if (r) rtpmap.set(Number(r[1]), `${r[2]!.toUpperCase()}/${r[3]}`);
    }
    if (!address) throw new SdpError('SDP has no connection address');
    const codecs: AudioDescription['codecs'] = [];
    let telephoneEvent: number | undefined;
    for (const pt of payloadTypes) {
      const name = rtpmap.get(pt) ?? (pt === 0 ? 'PCMU/8000' : pt === 8 ? 'PCMA/8000' : undefined);
      if (name === 'PCMU/8000') codecs.push({ name: 'PCMU', pt });
      else if (name === 'PCMA/8000') codecs.push({ name: 'PCMA', pt });
      else if (name === 'TELEPHONE-EVENT/8000') telephoneEvent = pt;
    }
    const desc: AudioDescription = { webrtc: /SAVPF?$/.test(proto) && proto.includes('TLS'), address, port, payloadTypes, codecs, direction };
    if (telephoneEvent !== undefined) desc.telephoneEvent = telephoneEvent;
    return desc;
  }
  throw new SdpError('SDP has no audio stream');
}

function parseConnection(line: string): string {
  const m = /^c=IN IP[46] ([^/\s]+)/.exec(line);
  if (!m) throw new SdpError('Bad c= line');
  return m[1]!;
}

function dirOf(line: string): Direction | undefined {
  const m = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(line);
  return m ? (m[1] as Direction) : undefined;
}

/** The codecs both we and the offer support, in the offer's order (RFC 3264 §6.1). */
export function commonCodecs(desc: AudioDescription, allowed: readonly CodecName[] = SUPPORTED_CODECS): CodecName[] {
  return desc.codecs.map((c) => c.name).filter((n, i, a) => allowed.includes(n) && a.indexOf(n) === i);
}

/** The payload type we offer for telephone-event on plain RTP legs (RFC 4733; dynamic). */
export const TELEPHONE_EVENT_PT = 101;

/** Writes a plain RTP/AVP audio description. */
export function buildPlainSdp(o: { address: string; port: number; codecs: readonly CodecName[]; sessionId: number; version: number; direction?: Direction; telephoneEvent?: number | undefined }): string {
  const pts: number[] = o.codecs.map((c) => STATIC_PT[c]);
  if (o.telephoneEvent !== undefined) pts.push(o.telephoneEvent);
  const lines = [
    'v=0',
    `o=switchboard ${o.sessionId} ${o.version} IN IP4 ${o.address}`,
    's=switchboard',
    `c=IN IP4 ${o.address}`,
    't=0 0',
    `m=audio ${o.port} RTP/AVP ${pts.join(' ')}`,
    ...o.codecs.map((c) => `a=rtpmap:${STATIC_PT[c]} ${c}/8000`),
    // RFC 4733 DTMF events 0-15 (digits, *, #, A-D).
    ...(o.telephoneEvent !== undefined ? [`a=rtpmap:${o.telephoneEvent} telephone-event/8000`, `a=fmtp:${o.telephoneEvent} 0-16`] : []),
    'a=ptime:20',
    `a=${o.direction ?? 'sendrecv'}`,
  ];
  return lines.join('\r\n') + '\r\n';
}
