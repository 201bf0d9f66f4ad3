import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonLogSink, log, setLogSink, textLine, type LogRecord } from './log.js';

test('JSON lines (pino) carry the scope and the call id as fields; CR/LF stay inside one line', () => {
  const lines: string[] = [];
  const prev = setLogSink(jsonLogSink({ write: (s: string) => lines.push(s) }));
  try {
    log.with({ callId: 'c0ffee' }).warn('b2bua', 'from a header:\r\nInjected: yes', new Error('boom'));
  } finally {
    setLogSink(prev);
  }
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.trimEnd().split('\n').length, 1, 'one record, one line');
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(rec.level, 'warn');
  assert.equal(rec.scope, 'b2bua');
  assert.equal(rec.callId, 'c0ffee');
  assert.equal(rec.msg, 'from a header:\r\nInjected: yes');
  assert.equal((rec.err as { message: string }).message, 'boom');
});

test('text lines escape control characters and append the context', () => {
  const r: LogRecord = { level: 'info', scope: 'sip', message: 'user "evil\r\n2026 INFO [x] forged"', context: { callId: 'abc' } };
  const line = textLine(r);
  assert.ok(!/[\r\n]/.test(line), line);
  assert.match(line, /\[sip\] user "evil\\r\\n2026 INFO \[x\] forged" callId=abc$/);
});

test('a sink that throws never breaks the caller', () => {
  const prev = setLogSink(() => {
    throw new Error('disk full');
  });
  try {
    assert.doesNotThrow(() => log.error('x', 'y'));
  } finally {
    setLogSink(prev);
  }
});
