/**
 * HID report descriptors (Device Class Definition for HID 1.11, §6.2.2) read into the shape
 * WebHID gives a page (`HIDDevice.collections`): collections with their input, output and
 * feature reports, each a list of report items with extended usages (usage page << 16 | usage).
 * The headset code works on that shape only, so what a browser reports and what is parsed here
 * from raw bytes (tests, tools, a device with a vendor descriptor) are read the same way.
 */

/** One main item of a report: `reportCount` fields of `reportSize` bits (WebHID's `HIDReportItem`, the part used here). */
export interface HidReportItem {
  /** Extended usages (page << 16 | id), one per field (the last repeats when there are fewer). */
  usages: number[];
  /** A usage range instead of a list (`isRange`). */
  isRange: boolean;
  /** First usage of the range (extended). */
  usageMinimum: number;
  /** Last usage of the range (extended). */
  usageMaximum: number;
  /** Bits per field. */
  reportSize: number;
  /** Number of fields. */
  reportCount: number;
  /** Smallest value a field holds. */
  logicalMinimum: number;
  /** Largest value a field holds. */
  logicalMaximum: number;
  /** Padding: no usage, never read. */
  isConstant: boolean;
  /** Array (each field holds the index of a usage that is active) rather than variable (a field per usage). */
  isArray: boolean;
  /** Absolute (the field holds the state) rather than relative (it reports a change). */
  isAbsolute: boolean;
}

/** A report: its id (0 when the device uses none) and its items, in order (WebHID's `HIDReportInfo`). */
export interface HidReportInfo {
  /** The report id (0: none). */
  reportId: number;
  /** Its main items, in order. */
  items: HidReportItem[];
}

/** A collection (WebHID's `HIDCollectionInfo`, the part used here). */
export interface HidCollectionInfo {
  /** The collection's usage page (0x0B Telephony, …). */
  usagePage: number;
  /** Its usage on that page (0x05 Headset, …). */
  usage: number;
  /** 0 physical, 1 application, 2 logical, … */
  type: number;
  /** Nested collections. */
  children: HidCollectionInfo[];
  /** Input reports declared in it. */
  inputReports: HidReportInfo[];
  /** Output reports declared in it. */
  outputReports: HidReportInfo[];
  /** Feature reports declared in it. */
  featureReports: HidReportInfo[];
}

/** A descriptor that cannot be read: where (byte offset) and why. */
export class HidDescriptorError extends Error {
  /** Always `HidDescriptorError`. */
  override name = 'HidDescriptorError';
}

interface Globals {
  usagePage: number;
  logicalMinimum: number;
  logicalMaximum: number;
  reportSize: number;
  reportCount: number;
  reportId: number;
}

/**
 * Reads a report descriptor. Long items are skipped; push/pop of the global state is honoured;
 * a main item outside any collection is kept in a top-level pseudo-collection (usage 0).
 * @throws HidDescriptorError on a truncated item or unbalanced collections.
 */
export function parseReportDescriptor(bytes: Uint8Array): HidCollectionInfo[] {
  const top: HidCollectionInfo[] = [];
  const stack: HidCollectionInfo[] = [];
  let g: Globals = { usagePage: 0, logicalMinimum: 0, logicalMaximum: 0, reportSize: 0, reportCount: 0, reportId: 0 };
  const saved: Globals[] = [];
  let usages: number[] = [];
  let usageMin: number | undefined;
  let usageMax: number | undefined;
  let loose: HidCollectionInfo | undefined;
  const extended = (u: number, size: number) => (size === 4 ? u >>> 0 : ((g.usagePage << 16) | u) >>> 0);
  const current = (): HidCollectionInfo => {
    const c = stack.at(-1);
    if (c) return c;
    loose ??= { usagePage: 0, usage: 0, type: 1, children: [], inputReports: [], outputReports: [], featureReports: [] };
    if (!top.includes(loose)) top.push(loose);
    return loose;
  };
  const clearLocals = () => {
    usages = [];
    usageMin = usageMax = undefined;
  };

  for (let i = 0; i < bytes.length;) {
    const prefix = bytes[i]!;
    if (prefix === 0xfe) {
      // Long item: bDataSize, bLongItemTag, data (§6.2.2.3) — none defined; skipped.
      if (i + 2 >= bytes.length) throw new HidDescriptorError(`truncated long item at byte ${i}`);
      i += 3 + bytes[i + 1]!;
      continue;
    }
    const size = [0, 1, 2, 4][prefix & 0x03]!;
    const type = (prefix >> 2) & 0x03;
    const tag = prefix >> 4;
    if (i + 1 + size > bytes.length) throw new HidDescriptorError(`truncated item at byte ${i}`);
    let u = 0;
    for (let k = 0; k < size; k++) u |= bytes[i + 1 + k]! << (8 * k);
    u >>>= 0;
    // Signed value of the item's own size (logical minimum and maximum are signed, §6.2.2.7).
    const s = size === 1 ? (u << 24) >> 24 : size === 2 ? (u << 16) >> 16 : u | 0;
    const at = i;
    i += 1 + size;

    if (type === 0) {
      // Main items.
      if (tag === 0x8 || tag === 0x9 || tag === 0xb) {
        const isRange = usageMin !== undefined && usageMax !== undefined;
        const item: HidReportItem = {
          usages: isRange ? [] : usages,
          isRange,
          usageMinimum: usageMin ?? 0,
          usageMaximum: usageMax ?? 0,
          reportSize: g.reportSize,
          reportCount: g.reportCount,
          logicalMinimum: g.logicalMinimum,
          logicalMaximum: g.logicalMaximum,
          isConstant: (u & 0x01) !== 0,
          isArray: (u & 0x02) === 0,
          isAbsolute: (u & 0x04) === 0,
        };
        const c = current();
        const list = tag === 0x8 ? c.inputReports : tag === 0x9 ? c.outputReports : c.featureReports;
        let report = list.find((r) => r.reportId === g.reportId);
        if (!report) list.push((report = { reportId: g.reportId, items: [] }));
        report.items.push(item);
        clearLocals();
      } else if (tag === 0xa) {
        const c: HidCollectionInfo = { usagePage: (usages[0] ?? 0) >>> 16, usage: (usages[0] ?? 0) & 0xffff, type: u, children: [], inputReports: [], outputReports: [], featureReports: [] };
        (stack.at(-1)?.children ?? top).push(c);
        stack.push(c);
        clearLocals();
      } else if (tag === 0xc) {
        if (!stack.pop()) throw new HidDescriptorError(`End Collection without a Collection at byte ${at}`);
        clearLocals();
      } else {
        throw new HidDescriptorError(`unknown main item tag 0x${tag.toString(16)} at byte ${at}`);
      }
    } else if (type === 1) {
      // Global items.
      switch (tag) {
        case 0x0: g.usagePage = u & 0xffff; break;
        case 0x1: g.logicalMinimum = s; break;
        // With a minimum ≥ 0, a maximum whose sign bit is set means the unsigned value (a common
        // descriptor shortcut, e.g. 0xFF in one byte for 255).
        case 0x2: g.logicalMaximum = g.logicalMinimum >= 0 && s < 0 ? u : s; break;
        case 0x7: g.reportSize = u; break;
        case 0x8:
          if (u === 0 || u > 255) throw new HidDescriptorError(`report ID ${u} at byte ${at} (1-255)`);
          g.reportId = u;
          break;
        case 0x9: g.reportCount = u; break;
        case 0xa: saved.push({ ...g }); break;
        case 0xb: {
          const p = saved.pop();
          if (!p) throw new HidDescriptorError(`Pop without Push at byte ${at}`);
          g = p;
          break;
        }
        default: break; // physical extent, unit, unit exponent: not needed here
      }
    } else if (type === 2) {
      // Local items.
      if (tag === 0x0) usages.push(extended(u, size));
      else if (tag === 0x1) usageMin = extended(u, size);
      else if (tag === 0x2) usageMax = extended(u, size);
    }
  }
  if (stack.length) throw new HidDescriptorError(`${stack.length} collection(s) not closed`);
  return top;
}
