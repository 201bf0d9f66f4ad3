/**
 * Where a telephony headset's buttons and lights are in its reports, found from its collections
 * (HID Usage Tables 1.4: Telephony Device page 0x0B, LED page 0x08), and reading and writing
 * those reports. No vendor SDK: any headset that describes itself with the standard usages works.
 */
import type { HidCollectionInfo, HidReportItem } from './descriptor.js';

/** Telephony page (0x0B) usages of the buttons used here. */
export const BUTTONS = {
  /** Hook Switch: off hook / on hook (answer, hang up). */
  hookSwitch: 0x0b0020,
  /** Flash (hold / resume here). */
  flash: 0x0b0021,
  /** Hold. */
  hold: 0x0b0023,
  /** Redial. */
  redial: 0x0b0024,
  /** Line. */
  line: 0x0b002a,
  /** Phone Mute. */
  phoneMute: 0x0b002f,
} as const;

/** LED page (0x08) usages of the lights used here. */
export const LIGHTS = {
  /** Mute. */
  mute: 0x080009,
  /** Off-Hook: a call is connected. */
  offHook: 0x080017,
  /** Ring. */
  ring: 0x080018,
  /** Hold. */
  hold: 0x080020,
  /** Microphone: the agent can be heard. */
  microphone: 0x080021,
} as const;

/** A headset button. */
export type HeadsetButton = keyof typeof BUTTONS;
/** A headset light. */
export type HeadsetLight = keyof typeof LIGHTS;

/** Where a control is: its report, bit offset and size, and how its value reads. */
export interface ControlField {
  /** The report it is in (0: the device uses no report ids). */
  reportId: number;
  /** Its first bit in the report's data (without the report id byte). */
  bitOffset: number;
  /** Bits per field. */
  bitSize: number;
  /** `variable`: the field is the control's value; `array`: each of `count` fields holds the index of a pressed control. */
  kind: 'variable' | 'array';
  /** For `array`: how many fields, and the usage each value stands for. */
  count: number;
  /** For `array`: the usage a field's value stands for. */
  usageOf?: (value: number) => number | undefined;
  /** Absolute (the state) or relative (a press). */
  isAbsolute: boolean;
}

/** A headset's controls: buttons in input reports, lights in output reports, and each output report's length. */
export interface HeadsetLayout {
  /** The buttons found, in input reports. */
  buttons: Partial<Record<HeadsetButton, ControlField>>;
  /** The lights found, in output reports. */
  lights: Partial<Record<HeadsetLight, ControlField>>;
  /** Bytes of each output report that carries a light (without the report ID). */
  outputLength: Map<number, number>;
}

/** The usage of field `i` of a variable item (the last usage repeats when there are fewer, HID 1.11 §6.2.2.8). */
function usageAt(item: HidReportItem, i: number): number | undefined {
  if (item.isRange) {
    const u = item.usageMinimum + i;
    return u <= item.usageMaximum ? u : undefined;
  }
  return item.usages[Math.min(i, item.usages.length - 1)];
}

/**
 * Finds the telephony controls in `collections` (WebHID's `HIDDevice.collections`, or
 * {@link parseReportDescriptor}'s result). Items are laid out in the order the collections list
 * them, a collection's own items before its children's, per report id and direction.
 */
export function findControls(collections: readonly HidCollectionInfo[]): HeadsetLayout {
  const layout: HeadsetLayout = { buttons: {}, lights: {}, outputLength: new Map() };
  const bits = { input: new Map<number, number>(), output: new Map<number, number>() };
  const want: Record<'input' | 'output', Map<number, string>> = {
    input: new Map(Object.entries(BUTTONS).map(([k, v]) => [v, k])),
    output: new Map(Object.entries(LIGHTS).map(([k, v]) => [v, k])),
  };
  const walk = (c: HidCollectionInfo) => {
    for (const dir of ['input', 'output'] as const) {
      for (const report of dir === 'input' ? c.inputReports : c.outputReports) {
        let offset = bits[dir].get(report.reportId) ?? 0;
        for (const item of report.items) {
          const span = item.reportSize * item.reportCount;
          if (!item.isConstant) {
            const found = (name: string, field: ControlField) => {
              const target = dir === 'input' ? layout.buttons : layout.lights;
              (target as Record<string, ControlField>)[name] ??= field;
              if (dir === 'output') layout.outputLength.set(report.reportId, 0);
            };
            if (item.isArray) {
              const usages = item.isRange ? [] : item.usages;
              const usageOf = (v: number) => {
                if (v < item.logicalMinimum || v > item.logicalMaximum) return undefined;
                return item.isRange ? item.usageMinimum + (v - item.logicalMinimum) : usages[v - item.logicalMinimum];
              };
              for (let v = item.logicalMinimum; v <= item.logicalMaximum && v - item.logicalMinimum < 256; v++) {
                const name = want[dir].get(usageOf(v) ?? -1);
                if (name) found(name, { reportId: report.reportId, bitOffset: offset, bitSize: item.reportSize, kind: 'array', count: item.reportCount, usageOf, isAbsolute: item.isAbsolute });
              }
            } else {
              for (let i = 0; i < item.reportCount; i++) {
                const name = want[dir].get(usageAt(item, i) ?? -1);
                if (name) found(name, { reportId: report.reportId, bitOffset: offset + i * item.reportSize, bitSize: item.reportSize, kind: 'variable', count: 1, isAbsolute: item.isAbsolute });
              }
            }
          }
          offset += span;
        }
        bits[dir].set(report.reportId, offset);
      }
    }
    for (const child of c.children) walk(child);
  };
  for (const c of collections) walk(c);
  for (const id of layout.outputLength.keys()) layout.outputLength.set(id, Math.ceil((bits.output.get(id) ?? 0) / 8));
  return layout;
}

function readBits(data: DataView, offset: number, size: number): number {
  let v = 0;
  for (let b = 0; b < size; b++) {
    const bit = offset + b;
    const byte = bit >> 3;
    if (byte >= data.byteLength) break;
    if (data.getUint8(byte) & (1 << (bit & 7))) v |= 1 << b;
  }
  return v >>> 0;
}

function writeBits(out: Uint8Array, offset: number, size: number, value: number): void {
  for (let b = 0; b < size; b++) {
    const bit = offset + b;
    const byte = bit >> 3;
    if (byte >= out.length) break;
    if ((value >> b) & 1) out[byte]! |= 1 << (bit & 7);
    else out[byte]! &= ~(1 << (bit & 7));
  }
}

/** The buttons an input report (`reportId`, its data without the id byte) says are down, of those in `layout`. */
export function readButtons(layout: HeadsetLayout, reportId: number, data: DataView): Partial<Record<HeadsetButton, boolean>> {
  const out: Partial<Record<HeadsetButton, boolean>> = {};
  for (const [name, f] of Object.entries(layout.buttons) as Array<[HeadsetButton, ControlField]>) {
    if (f.reportId !== reportId) continue;
    if (f.kind === 'variable') out[name] = readBits(data, f.bitOffset, f.bitSize) !== 0;
    else {
      let down = false;
      for (let i = 0; i < f.count; i++) if (f.usageOf?.(readBits(data, f.bitOffset + i * f.bitSize, f.bitSize)) === BUTTONS[name]) down = true;
      out[name] = down;
    }
  }
  return out;
}

/** The output reports that set `lights` (others off): report id → data (without the id byte). Array-type lights are not supported. */
export function writeLights(layout: HeadsetLayout, lights: Partial<Record<HeadsetLight, boolean>>): Map<number, Uint8Array> {
  const reports = new Map<number, Uint8Array>();
  for (const [id, length] of layout.outputLength) reports.set(id, new Uint8Array(length));
  for (const [name, f] of Object.entries(layout.lights) as Array<[HeadsetLight, ControlField]>) {
    if (f.kind !== 'variable') continue;
    writeBits(reports.get(f.reportId)!, f.bitOffset, f.bitSize, lights[name] ? 1 : 0);
  }
  return reports;
}
