/**
 * Structured logging: one JSON object per line (or a readable line in development). Callers pass
 * fields, never tokens or row contents; the logger does not try to guess what is secret.
 *
 * @example
 *   const log = createLogger({ level: 'info', format: 'json' });
 *   log.info('tool_call', { tool: 'query', outcome: 'ok', durationMs: 12 });
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

const RANK: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LoggerOptions {
  level: Level | 'silent';
  format: 'json' | 'pretty';
  /** Where lines go; default console.log (stdout on every runtime). */
  write?: (line: string) => void;
  now?: () => Date;
}

export function createLogger({
  level,
  format,
  write = (line) => console.log(line),
  now = () => new Date(),
}: LoggerOptions): Logger {
  const emit =
    (lineLevel: Level) =>
    (event: string, fields: Record<string, unknown> = {}) => {
      if (RANK[lineLevel] < RANK[level]) return;
      const time = now().toISOString();
      if (format === 'json') {
        write(JSON.stringify({ time, level: lineLevel, event, ...fields }));
        return;
      }
      const rest = Object.entries(fields)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      write(`${time.slice(11, 23)} ${lineLevel.toUpperCase().padEnd(5)} ${event}${rest ? ` ${rest}` : ''}`);
    };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export const silentLogger: Logger = createLogger({ level: 'silent', format: 'json' });
