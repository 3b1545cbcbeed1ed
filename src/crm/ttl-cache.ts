/**
 * A small cache whose entries expire after a fixed time, bounded in size: the configuration is
 * read at most once per user per TTL, and a burst of users cannot grow it without limit.
 *
 * @example
 *   const cache = new TtlCache<Config>(10_000, 1_000);
 *   const config = await cache.get(sub, () => readConfiguration(sub));
 */
export class TtlCache<Value> {
  readonly #entries = new Map<string, { expires: number; value: Promise<Value> }>();

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
    readonly now: () => number = Date.now,
  ) {}

  /** The cached value for `key`, or `load()`'s (shared by concurrent callers; a failure is not kept). */
  get(key: string, load: () => Promise<Value>): Promise<Value> {
    const at = this.now();
    const hit = this.#entries.get(key);
    if (hit && hit.expires > at) return hit.value;
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    const value = load();
    this.#entries.set(key, { expires: at + this.ttlMs, value });
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    return value;
  }

  /** The live value for `key`, if any, without loading it. */
  peek(key: string): Promise<Value> | undefined {
    const hit = this.#entries.get(key);
    return hit && hit.expires > this.now() ? hit.value : undefined;
  }

  /** Forgets `key`, e.g. after the user changed what it caches. */
  delete(key: string): void {
    this.#entries.delete(key);
  }
}
