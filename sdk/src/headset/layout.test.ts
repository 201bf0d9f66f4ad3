/**
 * Telephony headset descriptors built by hand from the HID Usage Tables (Telephony page 0x0B,
 * LED page 0x08), read as WebHID would present them, and the controls found in them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HidDescriptorError, parseReportDescriptor } from './descriptor.js';
import { findControls, readButtons, writeLights } from './layout.js';

import { hex, SIMPLE, WITH_IDS } from '../../../test/fixtures/hid-descriptors.js';

/** Buttons as an array: a 2-bit field whose value 1 is Hook Switch and 2 Flash (0: none). */
const ARRAY = hex(`
  05 0B 09 05 A1 01
    15 01 25 02 19 20 29 21 75 02 95 01 81 00
    75 06 95 01 81 01
  C0`);

test('a single telephony collection without report ids: buttons and LEDs found with their bits', () => {
  const collections = parseReportDescriptor(SIMPLE);
  assert.equal(collections.length, 1);
  assert.deepEqual([collections[0]!.usagePage, collections[0]!.usage, collections[0]!.type], [0x0b, 0x05, 1]);
  const l = findControls(collections);
  const at = (f: { reportId: number; bitOffset: number; isAbsolute: boolean } | undefined) => f && [f.reportId, f.bitOffset, f.isAbsolute];
  assert.deepEqual(at(l.buttons.hookSwitch), [0, 0, true]);
  assert.deepEqual(at(l.buttons.phoneMute), [0, 1, false]);
  assert.deepEqual(at(l.buttons.flash), [0, 2, false]);
  assert.deepEqual(at(l.buttons.redial), [0, 3, false]);
  assert.equal(l.buttons.line, undefined);
  assert.deepEqual([l.lights.offHook?.bitOffset, l.lights.ring?.bitOffset, l.lights.mute?.bitOffset, l.lights.hold?.bitOffset], [0, 1, 2, 3]);
  assert.deepEqual([...l.outputLength], [[0, 1]]);
  assert.deepEqual(readButtons(l, 0, new DataView(Uint8Array.of(0b0011).buffer)), { hookSwitch: true, phoneMute: true, flash: false, redial: false });
  assert.deepEqual([...writeLights(l, { offHook: true, mute: true })], [[0, Uint8Array.of(0b0101)]]);
});

test('report ids and several collections: the consumer collection is ignored, LEDs span two output reports', () => {
  const collections = parseReportDescriptor(WITH_IDS);
  assert.deepEqual(collections.map((c) => [c.usagePage, c.usage]), [[0x0c, 0x01], [0x0b, 0x05]]);
  const l = findControls(collections);
  assert.deepEqual([l.buttons.hookSwitch?.reportId, l.buttons.hookSwitch?.bitOffset], [2, 0]);
  assert.deepEqual([l.buttons.phoneMute?.reportId, l.buttons.phoneMute?.bitOffset, l.buttons.phoneMute?.isAbsolute], [2, 1, false]);
  assert.deepEqual([l.buttons.line?.reportId, l.buttons.line?.bitOffset], [2, 2]);
  assert.deepEqual([l.lights.offHook, l.lights.mute, l.lights.ring].map((f) => [f?.reportId, f?.bitOffset]), [[3, 0], [3, 1], [3, 2]]);
  assert.deepEqual([l.lights.hold, l.lights.microphone].map((f) => [f?.reportId, f?.bitOffset]), [[4, 8], [4, 9]]);
  assert.deepEqual(Object.fromEntries(l.outputLength), { 3: 1, 4: 2 });
  // A report of another id says nothing about these buttons; report 2 does.
  assert.deepEqual(readButtons(l, 1, new DataView(Uint8Array.of(0xff).buffer)), {});
  assert.deepEqual(readButtons(l, 2, new DataView(Uint8Array.of(0b101).buffer)), { hookSwitch: true, phoneMute: false, line: true });
  const out = writeLights(l, { ring: true, microphone: true });
  assert.deepEqual(Object.fromEntries(out), { 3: Uint8Array.of(0b100), 4: Uint8Array.of(0, 0b10) });
});

test('buttons reported as an array of usage indexes', () => {
  const l = findControls(parseReportDescriptor(ARRAY));
  assert.equal(l.buttons.hookSwitch?.kind, 'array');
  assert.deepEqual(readButtons(l, 0, new DataView(Uint8Array.of(1).buffer)), { hookSwitch: true, flash: false });
  assert.deepEqual(readButtons(l, 0, new DataView(Uint8Array.of(2).buffer)), { hookSwitch: false, flash: true });
  assert.deepEqual(readButtons(l, 0, new DataView(Uint8Array.of(0).buffer)), { hookSwitch: false, flash: false });
});

test('descriptors that cannot be read say where', () => {
  assert.throws(() => parseReportDescriptor(hex('05 0B 09 05 A1 01 75')), (e: unknown) => e instanceof HidDescriptorError && /truncated item at byte 6/.test(e.message));
  assert.throws(() => parseReportDescriptor(hex('05 0B 09 05 A1 01')), (e: unknown) => e instanceof HidDescriptorError && /1 collection\(s\) not closed/.test(e.message));
  assert.throws(() => parseReportDescriptor(hex('C0')), (e: unknown) => e instanceof HidDescriptorError && /End Collection without a Collection at byte 0/.test(e.message));
  assert.throws(() => parseReportDescriptor(hex('85 00')), (e: unknown) => e instanceof HidDescriptorError && /report ID 0/.test(e.message));
  // Push/Pop restore the globals; a long item is skipped.
  const l = findControls(parseReportDescriptor(hex('FE 02 00 AA BB 05 0B 09 05 A1 01 15 00 25 01 75 01 95 01 A4 75 07 95 01 81 01 B4 09 20 81 02 C0')));
  assert.deepEqual([l.buttons.hookSwitch?.bitOffset, l.buttons.hookSwitch?.bitSize], [7, 1]);
});
