/**
 * `@switchboard/sdk` — a browser softphone for Switchboard contact centers.
 *
 * ```ts
 * import { login, Softphone } from '@switchboard/sdk';
 * const { token } = await login({ url: 'https://gw.example.com', username: 'alice', password });
 * const phone = new Softphone({ url: 'https://gw.example.com', token });
 * phone.on('incoming', (call) => call.answer());
 * await phone.connect();
 * const call = await phone.dial('1002');
 * ```
 * @packageDocumentation
 */
export { Softphone, ConnectionState, RegistrationState, login } from './softphone.js';
export type { SoftphoneOptions, SoftphoneEvents, LoginResult, ReconnectingInfo, DrainingInfo, AudioRouteInfo, AudioDevice } from './softphone.js';
export { Call, CallState } from './call.js';
export { AudioDevices } from './audio.js';
export type { AudioDeviceChange, AudioDeviceEntry, AudioDeviceList, AudioLevels, AudioDeviceKind, AudioDevicesEvents, AudioProcessing } from './audio.js';
export { Ringer } from './ringer.js';
export type { PreflightOptions, PreflightReport } from './preflight.js';
export { Agent, AgentState } from './agent.js';
export type { AgentStatus, AgentStatistics, AgentEvents, CenterStatistics, QueueStatistics } from './agent.js';
export type { CallEvents, CallEndInfo, HoldState, Participant, ParticipantMode, SupervisedInfo, SupervisionMode } from './call.js';
export type { AudioRoute, CallData, CenterCommand, DeviceCallStatus } from '@switchboard/protocol';
export { CALL_DATA_LIMITS } from '@switchboard/protocol';
export { Supervisor, Supervision } from './supervisor.js';
export type { LiveCall, LiveParty, SupervisionEvents } from './supervisor.js';
export { SwitchboardError, ERROR_CATALOG } from './errors.js';
export { ExponentialBackoff } from './reconnect.js';
export { DEFAULT_THRESHOLDS } from './quality.js';
export type { QualityOptions, QualitySample, QualityThresholds, QualityWarning } from './quality.js';
export type { ReconnectPolicy, ReconnectContext, BackoffOptions } from './reconnect.js';
export type { ErrorCode, ErrorInfo } from './errors.js';
export type { QueueInfo, RemoteParty, SignalingClient, SignalingClientEvents, SignalingSession, SignalingSessionEvents, SignalingFactory, SignalingConfig, SessionEnd, SignalingConnectionState, SignalingRegistrationState } from './signaling/types.js';
