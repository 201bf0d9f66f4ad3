/**
 * Media worker entry point: hosts a {@link LocalMediaEngine} off the signaling thread and
 * answers RPC messages from {@link WorkerMediaEngine}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LocalMediaEngine } from './engine.js';
import type { RpcRequest, RpcReply, WorkerInit } from './worker-engine.js';

const port = parentPort!;
const engine = new LocalMediaEngine(workerData as WorkerInit);
engine.on('endpointState', (...args) => port.postMessage({ event: 'endpointState', args } satisfies RpcReply));
engine.on('firstPacket', (...args) => port.postMessage({ event: 'firstPacket', args } satisfies RpcReply));
engine.on('dtmf', (...args) => port.postMessage({ event: 'dtmf', args } satisfies RpcReply));
engine.on('timeout', (...args) => port.postMessage({ event: 'timeout', args } satisfies RpcReply));
void engine.warmUp();

port.on('message', async (msg: RpcRequest) => {
  try {
    const fn = (engine as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[msg.method];
    if (typeof fn !== 'function') throw new Error(`unknown media method ${msg.method}`);
    const result = await fn.apply(engine, msg.args);
    port.postMessage({ id: msg.id, result } satisfies RpcReply);
  } catch (err) {
    port.postMessage({ id: msg.id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) } satisfies RpcReply);
  }
});
