/**
 * A {@link MediaEngine} whose packet path runs in a worker thread. Calls are messages with ids in
 * a pending map; every request has a deadline, and every pending request is rejected if the
 * worker dies, so nothing waits forever (the pattern of mediasoup's Channel).
 *
 * A worker that dies (a crash, an exception that escaped, a hang that missed its deadline) is
 * replaced at once — the next call gets a fresh worker — and the engine reports the endpoints
 * that died with it (`lost`), so the calls using them end with a clear reason (mediasoup's
 * Worker `died` event, with the respawn done here rather than by every user).
 */
import { Worker } from 'node:worker_threads';
import { Emitter } from '../util/emitter.js';
import { log } from '../util/log.js';
import type { CodecName } from './sdp.js';
import type { BridgeMember, EndpointKind, MediaEngine, MediaEngineEvents, MediaOptions, MediaStats, OfferOptions, ReceiveCounters } from './types.js';

/** @internal A call to the worker. */
export interface RpcRequest {
  id: number;
  method: keyof MediaEngine;
  args: unknown[];
}

/** @internal A reply or an event from the worker. */
export type RpcReply =
  | { id: number; result?: unknown; error?: string; event?: undefined }
  | { event: keyof MediaEngineEvents; args: unknown[]; id?: undefined };

/** @internal What the worker is started with. */
export interface WorkerInit extends MediaOptions {
  /** Endpoint ids of this worker generation carry it, so ids never repeat across a respawn. */
  idPrefix: string;
}

/** Error from the media engine; `message` says which call failed and why. */
export class MediaEngineError extends Error {
  override name = 'MediaEngineError';
}

/** Longest a request may take before the worker is considered hung (offer/answer gather in ~ms). */
const REQUEST_TIMEOUT_MS = 10_000;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  method: string;
  timer: NodeJS.Timeout;
}

/** Media engine in a worker thread, respawned when it dies. */
export class WorkerMediaEngine extends Emitter<MediaEngineEvents> implements MediaEngine {
  private worker!: Worker;
  private generation = 0;
  private readonly pending = new Map<number, Pending>();
  /** Endpoints alive in the current worker (reported as lost if it dies). */
  private readonly endpoints = new Set<string>();
  private nextId = 1;
  private closed = false;
  /** How many times the worker was replaced. */
  respawns = 0;

  constructor(private readonly opts: MediaOptions) {
    super();
    this.spawn();
  }

  private spawn(): void {
    this.generation++;
    // Run the TypeScript source under tsx in development and tests, the compiled file otherwise.
    const here = import.meta.url;
    // (tsx's loader does not reach worker threads by itself, so the dev worker registers it first.)
    const dev = here.endsWith('.ts');
    const url = new URL(dev ? './worker.ts' : './worker.js', here);
    const workerData: WorkerInit = { ...this.opts, idPrefix: this.generation > 1 ? `g${this.generation}.` : '' };
    const worker = dev
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true, workerData })
      : new Worker(url, { workerData });
    worker.unref();
    worker.on('message', (msg: RpcReply) => {
      if (worker === this.worker) this.onReply(msg);
    });
    worker.on('error', (err) => this.died(worker, err));
    worker.on('exit', (code) => this.died(worker, new MediaEngineError(`media worker exited with code ${code}`)));
    this.worker = worker;
  }

  private onReply(msg: RpcReply): void {
    if (msg.event !== undefined) {
      this.emit(msg.event, ...(msg.args as never));
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error !== undefined) p.reject(new MediaEngineError(`${p.method}: ${msg.error}`));
    else p.resolve(msg.result);
  }

  /** The worker is gone: fail what waited on it, report its endpoints, start another. */
  private died(worker: Worker, err: Error): void {
    if (worker !== this.worker) return;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new MediaEngineError(`${p.method}: ${err.message}`));
    }
    this.pending.clear();
    const lost = [...this.endpoints];
    this.endpoints.clear();
    if (this.closed) return;
    log.error('media', `media worker died (${err.message}); ${lost.length} endpoints lost; starting a new worker`, err);
    this.respawns++;
    this.spawn();
    this.emit('lost', lost, `Media Engine Failure: ${err.message}`);
  }

  /** @internal Tests: kill the worker as a crash would. */
  killWorker(): Promise<number> {
    return this.worker.terminate();
  }

  private call<T>(method: keyof MediaEngine, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new MediaEngineError(`${method}: media engine closed`));
    const id = this.nextId++;
    const worker = this.worker;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.has(id)) return;
        // A request that never comes back means the worker's loop is stuck: replace it.
        log.error('media', `media worker did not answer ${method} in ${REQUEST_TIMEOUT_MS} ms; restarting it`);
        void worker.terminate();
      }, REQUEST_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method, timer });
      worker.postMessage({ id, method, args } satisfies RpcRequest);
    });
  }

  async createEndpoint(kind: EndpointKind): Promise<string> {
    const id = await this.call<string>('createEndpoint', kind);
    this.endpoints.add(id);
    return id;
  }
  answer(id: string, offer: string, codec: CodecName): Promise<string> {
    return this.call('answer', id, offer, codec);
  }
  offer(id: string, codecs: readonly CodecName[], opts?: OfferOptions): Promise<string> {
    // The worker relays nothing peer to peer: `peer` means nothing to it.
    return this.call('offer', id, codecs, { telephoneEvent: opts?.telephoneEvent });
  }
  hasTelephoneEvent(id: string): Promise<boolean> {
    return this.call('hasTelephoneEvent', id);
  }

  sendDigit(id: string, digit: string): Promise<boolean> {
    return this.call('sendDigit', id, digit);
  }

  reanswer(id: string, offer: string): Promise<string> {
    return this.call('reanswer', id, offer);
  }

  reoffer(id: string): Promise<string> {
    return this.call('reoffer', id);
  }

  acceptAnswer(id: string, answer: string): Promise<CodecName> {
    return this.call('acceptAnswer', id, answer);
  }
  setBridge(bridgeId: string, members: readonly BridgeMember[]): Promise<void> {
    return this.call('setBridge', bridgeId, members);
  }
  closeBridge(bridgeId: string): Promise<void> {
    return this.call('closeBridge', bridgeId);
  }
  expectMedia(id: string, expected: boolean): Promise<void> {
    return this.call('expectMedia', id, expected);
  }
  newOutputSource(id: string): Promise<void> {
    return this.call('newOutputSource', id);
  }
  closeEndpoint(id: string): Promise<void> {
    // Forgotten at once: a worker dying meanwhile does not report it as lost.
    if (!this.endpoints.delete(id)) return Promise.resolve();
    return this.call('closeEndpoint', id);
  }
  async stats(): Promise<MediaStats> {
    return { ...(await this.call<MediaStats>('stats')), workerRespawns: this.respawns };
  }

  receiveStats(ids: readonly string[]): Promise<Record<string, ReceiveCounters>> {
    return this.call('receiveStats', ids);
  }

  impair(id: string, impairment: { lossPct: number; delayMs: number } | null): Promise<void> {
    return this.call('impair', id, impairment);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.call('close').catch(() => undefined);
    this.closed = true;
    await this.worker.terminate();
  }
}
