/**
 * A {@link MediaEngine} whose packet path runs in a worker thread. Calls are messages with ids;
 * every pending call is rejected if the worker dies, so nothing waits forever (the pattern of
 * mediasoup's Channel).
 */
import { Worker } from 'node:worker_threads';
import { Emitter } from '../util/emitter.js';
import { log } from '../util/log.js';
import type { CodecName } from './sdp.js';
import type { EndpointKind, MediaEngine, MediaEngineEvents, MediaOptions, MediaStats } from './types.js';

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

/** Error from the media engine; `message` says which call failed and why. */
export class MediaEngineError extends Error {
  override name = 'MediaEngineError';
}

/** Media engine in a worker thread. */
export class WorkerMediaEngine extends Emitter<MediaEngineEvents> implements MediaEngine {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string }>();
  private nextId = 1;
  private dead?: Error;

  constructor(opts: MediaOptions) {
    super();
    // Run the TypeScript source under tsx in development and tests, the compiled file otherwise.
    const here = import.meta.url;
    // (tsx's loader does not reach worker threads by itself, so the dev worker registers it first.)
    const dev = here.endsWith('.ts');
    const url = new URL(dev ? './worker.ts' : './worker.js', here);
    this.worker = dev
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true, workerData: opts })
      : new Worker(url, { workerData: opts });
    this.worker.unref();
    this.worker.on('message', (msg: RpcReply) => this.onReply(msg));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new MediaEngineError(`media worker exited with code ${code}`)));
  }

  private onReply(msg: RpcReply): void {
    if (msg.event !== undefined) {
      this.emit(msg.event, ...(msg.args as never));
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error !== undefined) p.reject(new MediaEngineError(`${p.method}: ${msg.error}`));
    else p.resolve(msg.result);
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    log.error('media', 'media worker stopped', err);
    for (const p of this.pending.values()) p.reject(new MediaEngineError(`${p.method}: ${err.message}`));
    this.pending.clear();
  }

  private call<T>(method: keyof MediaEngine, ...args: unknown[]): Promise<T> {
    if (this.dead) return Promise.reject(new MediaEngineError(`${method}: media worker is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      this.worker.postMessage({ id, method, args } satisfies RpcRequest);
    });
  }

  createEndpoint(kind: EndpointKind): Promise<string> {
    return this.call('createEndpoint', kind);
  }
  answer(id: string, offer: string, codec: CodecName): Promise<string> {
    return this.call('answer', id, offer, codec);
  }
  offer(id: string, codecs: readonly CodecName[]): Promise<string> {
    return this.call('offer', id, codecs);
  }
  hasTelephoneEvent(id: string): Promise<boolean> {
    return this.call('hasTelephoneEvent', id);
  }

  sendDigit(id: string, digit: string): Promise<boolean> {
    return this.call('sendDigit', id, digit);
  }

  hold(id: string, music?: string): Promise<void> {
    return this.call('hold', id, music);
  }

  resume(id: string): Promise<void> {
    return this.call('resume', id);
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
  connect(a: string, b: string): Promise<void> {
    return this.call('connect', a, b);
  }
  echo(id: string): Promise<void> {
    return this.call('echo', id);
  }
  closeEndpoint(id: string): Promise<void> {
    return this.call('closeEndpoint', id);
  }
  stats(): Promise<MediaStats> {
    return this.call('stats');
  }

  async close(): Promise<void> {
    if (!this.dead) await this.call('close').catch(() => undefined);
    this.dead ??= new MediaEngineError('closed');
    await this.worker.terminate();
  }
}
