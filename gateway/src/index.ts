/**
 * `@switchboard/gateway` — the public surface.
 * @packageDocumentation
 */
export { createGateway } from './gateway.js';
export type { Gateway, GatewayAddresses, GatewayOptions } from './gateway.js';
export { LocalMediaEngine } from './media/engine.js';
export type { MediaEngine, MediaEngineEvents, MediaOptions, MediaStats, EndpointKind, EndpointState, OfferOptions } from './media/types.js';
export { loadConfig, loadConfigWithMode, parseConfig, defaultConfig, demoConfig, validateConfig, mergeConfig, ConfigError, ConfigSchema } from './config.js';
export type { GatewayConfig, UserConfig, TrunkConfig, CenterConfig, LoadedConfig } from './config.js';
export type { ContactCenter, CenterStats } from './center/contact-center.js';
export type { Acd, AcdEvents, QueuedCall, QueueConfig, QueueStats, OverflowTarget, Strategy } from './center/acd.js';
export { AgentState } from './center/agents.js';
export type { AgentRegistry, AgentEvents, AgentSnapshot, AgentTransition, ChangedBy } from './center/agents.js';
export type { Emitter, EventMap, Listener } from './util/emitter.js';
export type { RecordStore, CallRecord, RecordFilter } from './center/store.js';
export { DEFAULT_GUARD } from './sip/guard.js';
export type { GuardOptions } from './sip/guard.js';
export { TokenService } from './api/token.js';
export type { Role, TokenClaims } from './api/token.js';
export { setLogLevel, setLogSink } from './util/log.js';
export type { LogLevel, LogRecord, LogSink } from './util/log.js';
export { CallState } from './calls/call.js';
export type { DeepPartial } from './config.js';
export type { DigestAlgorithm } from './sip/digest.js';
export type { Clock, TimerHandle } from './util/clock.js';
