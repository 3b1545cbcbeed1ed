/**
 * How late this process runs its work. Requests wait in the kernel's socket buffers until the
 * event loop reads them, where MAX_IN_FLIGHT cannot count them: when the process is short of CPU
 * (its own load, or a busy host), calls came back after 30 s under open-loop overload with fewer
 * than MAX_IN_FLIGHT ever in flight (bench/overload.ts). A timer that fires late says so on every
 * runtime: its lateness is how long the work queued behind it waited.
 *
 * @example
 *   const lag = watchEventLoop();
 *   if (lag.lagMs() > 500) return overloaded();
 */

/** How often the timer fires: the lag is at most this stale. */
const INTERVAL_MS = 100;

export interface EventLoopLag {
  /** How late the last two ticks both fired, ms (0 when either was on time). */
  lagMs(): number;
  stop(): void;
}

export function watchEventLoop(): EventLoopLag {
  let due = performance.now() + INTERVAL_MS;
  let latest = 0;
  let before = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    before = latest;
    latest = Math.max(0, now - due);
    due = now + INTERVAL_MS;
  }, INTERVAL_MS);
  // A watch never keeps the process alive: Node and Bun unref the timer, Deno takes its id.
  if (typeof timer === 'number') (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer);
  else (timer as { unref?: () => void }).unref?.();
  // Both ticks: one long task (a start-up compile, a garbage collection) is a stall, not overload.
  return { lagMs: () => Math.min(latest, before), stop: () => clearInterval(timer) };
}
