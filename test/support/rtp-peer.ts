/**
 * A plain-RTP party for media-engine tests and benchmarks: a UDP socket that sends a G.711 sine
 * tone in 20 ms packets (its own SSRC, sequence and timestamps, paced by the wall clock) and
 * keeps what it receives — headers for stream checks, decoded audio for tone checks.
 */
import dgram from 'node:dgram';
import { decodeG711, encodeG711 } from '../../gateway/src/media/g711.js';
import type { CodecName } from '../../gateway/src/media/sdp.js';
import { toneLevelDb } from './audio.js';

/** One received packet. */
export interface Received {
  at: number;
  seq: number;
  ts: number;
  ssrc: number;
  pt: number;
  marker: boolean;
  payload: Buffer;
}

export class RtpPeer {
  readonly received: Received[] = [];
  private timer?: NodeJS.Timeout;
  private seq = Math.floor(Math.random() * 60000);
  private ts = Math.floor(Math.random() * 1e9);
  /** The SSRC it sends under. */
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  private phase = 0;
  private target?: { port: number; address: string };
  /** Packets sent. */
  sent = 0;
  /** A bad line between this peer and the gateway: this share of packets (percent) is lost on the way… */
  lossPct = 0;
  /** …and each of the others is delayed by a random 0..jitterMs ms. */
  jitterMs = 0;
  private lossCredit = 0;
  /** When each packet was sent, by sequence number (for latency measurements). */
  readonly sentAt = new Map<number, number>();

  private constructor(
    readonly socket: dgram.Socket,
    readonly port: number,
    public toneHz: number,
    readonly codec: CodecName,
    /** Amplitude 0..1 of the tone. */
    public amplitude: number,
  ) {
    socket.on('message', (m) => {
      if (m.length < 12) return;
      this.received.push({ at: performance.now(), seq: m.readUInt16BE(2), ts: m.readUInt32BE(4), ssrc: m.readUInt32BE(8), pt: m[1]! & 0x7f, marker: (m[1]! & 0x80) !== 0, payload: m.subarray(12) });
    });
  }

  static async create(toneHz: number, codec: CodecName = 'PCMU', amplitude = 0.3): Promise<RtpPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    return new RtpPeer(socket, socket.address().port, toneHz, codec, amplitude);
  }

  /** An SDP offer for this peer (sendrecv, one codec, telephone-event 101). */
  offer(): string {
    const pt = this.codec === 'PCMU' ? 0 : 8;
    return ['v=0', `o=- ${this.port} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${this.port} RTP/AVP ${pt} 101`, `a=rtpmap:${pt} ${this.codec}/8000`, 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=sendrecv', ''].join('\r\n');
  }

  /** Starts sending to the port in `answer` (the engine's SDP answer). */
  start(answer: string): void {
    const port = Number(/m=audio (\d+)/.exec(answer)![1]);
    this.target = { port, address: '127.0.0.1' };
    const t0 = performance.now();
    let n = 0;
    // Paced like a phone's audio clock: each wake-up aims at the next 20 ms point from t0 (an
    // interval drifts later, then sends two packets back to back).
    const wake = (): void => {
      const due = Math.floor((performance.now() - t0) / 20) + 1;
      for (; n < due; n++) this.sendFrame();
      this.timer = setTimeout(wake, Math.max(1, Math.ceil(t0 + n * 20 - performance.now())));
    };
    wake();
  }

  private sendFrame(): void {
    if (!this.target) return;
    const pcm = new Int16Array(160);
    for (let i = 0; i < 160; i++) {
      pcm[i] = Math.round(Math.sin(this.phase) * this.amplitude * 32767);
      this.phase += (2 * Math.PI * this.toneHz) / 8000;
    }
    this.phase %= 2 * Math.PI;
    const pkt = Buffer.alloc(12 + 160);
    pkt[0] = 0x80;
    pkt[1] = this.codec === 'PCMU' ? 0 : 8;
    pkt.writeUInt16BE(this.seq, 2);
    pkt.writeUInt32BE(this.ts >>> 0, 4);
    pkt.writeUInt32BE(this.ssrc, 8);
    encodeG711(this.codec, pcm, pkt.subarray(12));
    this.sentAt.set(this.seq, performance.now());
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + 160) >>> 0;
    this.sent++;
    // Evenly spread loss (a deterministic share), then a random delay for the rest.
    this.lossCredit += this.lossPct;
    if (this.lossCredit >= 100) {
      this.lossCredit -= 100;
      return;
    }
    const target = this.target;
    if (this.jitterMs > 0) {
      setTimeout(() => {
        try {
          this.socket.send(pkt, target.port, target.address);
        } catch {
          // closed meanwhile
        }
      }, Math.random() * this.jitterMs);
    }
    else this.socket.send(pkt, target.port, target.address);
  }

  /** Sends one RFC 4733 event (digit 0-9) as 3 packets + 3 end packets. */
  sendDigit(event: number): void {
    if (!this.target) return;
    const ts = this.ts;
    for (let i = 0; i < 6; i++) {
      const pkt = Buffer.alloc(16);
      pkt[0] = 0x80;
      pkt[1] = (i === 0 ? 0x80 : 0) | 101;
      pkt.writeUInt16BE(this.seq, 2);
      this.seq = (this.seq + 1) & 0xffff;
      pkt.writeUInt32BE(ts >>> 0, 4);
      pkt.writeUInt32BE(this.ssrc, 8);
      pkt[12] = event;
      pkt[13] = (i >= 3 ? 0x80 : 0) | 10;
      pkt.writeUInt16BE(Math.min(i + 1, 3) * 160, 14);
      this.socket.send(pkt, this.target.port, this.target.address);
    }
  }

  /** Forgets what was received so far. */
  clear(): void {
    this.received.length = 0;
  }

  /** The audio received (audio payload types only) as floats, the last `ms`. */
  audio(ms = 1000): Float32Array {
    const audio = this.received.filter((r) => r.pt === 0 || r.pt === 8);
    const frames = audio.slice(-Math.ceil(ms / 20));
    const out = new Float32Array(frames.length * 160);
    const pcm = new Int16Array(160);
    frames.forEach((f, k) => {
      decodeG711(f.pt === 0 ? 'PCMU' : 'PCMA', f.payload, pcm);
      for (let i = 0; i < 160; i++) out[k * 160 + i] = pcm[i]! / 32768;
    });
    return out;
  }

  /** Level (dBFS of a sine) of each frequency in the audio received over the last `ms`. */
  levels(freqs: number[], ms = 1000): Record<number, number> {
    const a = this.audio(ms);
    return Object.fromEntries(freqs.map((f) => [f, toneLevelDb(a, 8000, f)]));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.socket.close();
  }
}
