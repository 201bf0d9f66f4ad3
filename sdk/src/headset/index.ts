/**
 * `@switchboard/sdk/headset` — USB telephony headsets through WebHID: the hook switch answers and
 * hangs up, the mute button mutes, the lights follow the calls. A separate entry point, so apps
 * that do not use it do not bundle it.
 *
 * ```ts
 * import { Headsets } from '@switchboard/sdk/headset';
 * const headsets = new Headsets(phone);
 * await headsets.restore();                       // headsets granted before
 * button.onclick = () => headsets.request();      // the browser's picker (a user gesture)
 * headsets.on('button', (b, down) => console.log(b, down));
 * ```
 * @packageDocumentation
 */
export { Headsets, QUIRKS } from './headset.js';
export type { HeadsetCall, HeadsetEvents, HeadsetInfo, HeadsetPhone, HeadsetQuirk, HidDeviceLike, HidLike } from './headset.js';
export { findControls, readButtons, writeLights, BUTTONS, LIGHTS } from './layout.js';
export type { ControlField, HeadsetButton, HeadsetLayout, HeadsetLight } from './layout.js';
export { parseReportDescriptor, HidDescriptorError } from './descriptor.js';
export type { HidCollectionInfo, HidReportInfo, HidReportItem } from './descriptor.js';
