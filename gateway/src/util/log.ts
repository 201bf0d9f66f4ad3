/** Log levels in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A log line as handed to a {@link LogSink}. */
export interface LogRecord {
  level: LogLevel;
  scope: string;
  message: string;
  detail?: unknown;
}

/** Where log lines go; replace with {@link setLogSink} (tests capture lines this way). */
export type LogSink = (record: LogRecord) => void;

let threshold: number = order[(process.env.SWITCHBOARD_LOG_LEVEL as LogLevel) ?? 'info'] ?? order.info;

const consoleSink: LogSink = ({ level, scope, message, detail }) => {
  const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${scope}] ${message}`;
  const extra = detail instanceof Error ? ` ${detail.stack ?? detail.message}` : detail !== undefined ? ` ${JSON.stringify(detail)}` : '';
  (level === 'error' || level === 'warn' ? process.stderr : process.stdout).write(line + extra + '\n');
};

let sink: LogSink = consoleSink;

/** Sets the minimum level that is written. */
export function setLogLevel(level: LogLevel): void {
  threshold = order[level];
}

/** Replaces the log sink; returns the previous one. */
export function setLogSink(next: LogSink): LogSink {
  const prev = sink;
  sink = next;
  return prev;
}

function write(level: LogLevel, scope: string, message: string, detail?: unknown): void {
  if (order[level] < threshold) return;
  sink({ level, scope, message, detail });
}

/** The gateway's logger: `log.info('sip', 'message', detail?)`. */
export const log = {
  debug: (scope: string, message: string, detail?: unknown) => write('debug', scope, message, detail),
  info: (scope: string, message: string, detail?: unknown) => write('info', scope, message, detail),
  warn: (scope: string, message: string, detail?: unknown) => write('warn', scope, message, detail),
  error: (scope: string, message: string, detail?: unknown) => write('error', scope, message, detail),
};
