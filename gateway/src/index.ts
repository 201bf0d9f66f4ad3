/**
 * `@switchboard/gateway` — the public surface.
 * @packageDocumentation
 */
export { createGateway } from './gateway.js';
export type { Gateway, GatewayAddresses } from './gateway.js';
export { loadConfig, defaultConfig, validateConfig, mergeConfig, ConfigError } from './config.js';
export type { GatewayConfig, UserConfig, TrunkConfig } from './config.js';
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
