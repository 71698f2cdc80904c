/**
 * A map of at most `capacity` entries in fixed slots, visited in turn by a hand: `set` puts a new
 * key in the slot under the hand, dropping its entry (the oldest). (Evicting through
 * `map.keys().next()` costs ~30 µs and stalls up to milliseconds once V8's Map has many deleted
 * slots at its front: every miss evicts at scale.) `offer` is the frugal way in: see there.
 */
export class RingCache<V> {
  private readonly slots = new Map<string, number>();
  private readonly keys: (string | undefined)[];
  private readonly vals: (V | undefined)[];
  /** Per slot: 1 once its entry was read (get) since it was put there or the hand last passed (offer). */
  private readonly used: Uint8Array;
  private hand = 0;

  constructor(private readonly capacity: number) {
    this.keys = new Array<string | undefined>(capacity).fill(undefined);
    this.vals = new Array<V | undefined>(capacity).fill(undefined);
    this.used = new Uint8Array(capacity);
  }

  /** The entry, noted as used. */
  get(key: string): V | undefined {
    const s = this.slots.get(key);
    if (s === undefined) return undefined;
    this.used[s] = 1;
    return this.vals[s];
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }

  /** Replaces the value of a key it holds in place (no longer noted as used); a new key takes the slot under the hand. */
  set(key: string, value: V): void {
    const s = this.slots.get(key);
    if (s !== undefined) {
      this.vals[s] = value;
      this.used[s] = 0;
      return;
    }
    this.put(this.hand, key, value);
    this.advance();
  }

  /**
   * Like `set` for a new key, but it only takes the slot under the hand when that slot is free, or
   * its entry was not used since the hand last passed (or came in), or `expendable` says it may go;
   * else that entry gets a second chance (no longer noted as used), the hand moves on, and `key` is
   * not kept (false): CLOCK as an admission filter. Under requests spread over far more keys than
   * slots (a fleet asking uniformly), entries that earn hits mostly stay instead of churning through
   * the heap, with the same hit rate (any full cache holds the same share of a uniform population);
   * a new hot set still gets in within a turn or two of the hand.
   */
  offer(key: string, value: V, expendable: (held: V) => boolean): boolean {
    if (this.slots.has(key)) {
      this.set(key, value);
      return true;
    }
    const s = this.hand;
    this.advance();
    if (this.keys[s] !== undefined && this.used[s] === 1 && !expendable(this.vals[s]!)) {
      this.used[s] = 0;
      return false;
    }
    this.put(s, key, value);
    return true;
  }

  delete(key: string): void {
    const s = this.slots.get(key);
    if (s === undefined) return;
    this.slots.delete(key);
    this.keys[s] = undefined;
    this.vals[s] = undefined;
  }

  *values(): IterableIterator<V> {
    for (const s of this.slots.values()) yield this.vals[s]!;
  }

  clear(): void {
    this.slots.clear();
    this.keys.fill(undefined);
    this.vals.fill(undefined);
    this.used.fill(0);
    this.hand = 0;
  }

  private put(s: number, key: string, value: V): void {
    const old = this.keys[s];
    if (old !== undefined) this.slots.delete(old);
    this.keys[s] = key;
    this.vals[s] = value;
    this.used[s] = 0;
    this.slots.set(key, s);
  }

  private advance(): void {
    this.hand = this.hand + 1 === this.capacity ? 0 : this.hand + 1;
  }
}
