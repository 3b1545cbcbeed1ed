/**
 * Bounds a wait that has no deadline of its own (a pool query, a key-set fetch, a child process's
 * exit): the promise's own outcome if it settles within `ms`, else a rejection that names what
 * did not finish. The promise itself keeps running; callers that can cancel should do so.
 *
 * @example
 *   await withTimeout(sql`select 1`, 3_000, 'database ping'); // Error: database ping did not finish within 3000 ms
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
