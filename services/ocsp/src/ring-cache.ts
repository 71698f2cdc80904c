/**
 * A map of at most `capacity` entries; adding one to a full map drops the oldest. Keys are kept in
 * a ring: the slot about to be reused names the oldest entry. (Evicting through
 * `map.keys().next()` costs ~30 µs and stalls up to milliseconds once V8's Map has many deleted
 * slots at its front: every miss evicts at scale.)
 */
export class RingCache<V> {
  private readonly map = new Map<string, V>();
  private readonly order: (string | undefined)[];
  private slot = 0;

  constructor(private readonly capacity: number) {
    this.order = new Array<string | undefined>(capacity);
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Replaces the value of a key it holds in place; a new key takes the oldest one's slot. */
  set(key: string, value: V): void {
    if (!this.map.has(key)) {
      const oldest = this.order[this.slot];
      if (oldest !== undefined) this.map.delete(oldest);
      this.order[this.slot] = key;
      this.slot = (this.slot + 1) % this.capacity;
    }
    this.map.set(key, value);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  clear(): void {
    this.map.clear();
  }
}
