import type { Counter } from 'prom-client';

/**
 * Increments of a prom-client counter kept as plain numbers, one per label set, and added to it
 * when the registry is read (its collect hook, also in a cluster worker asked by the primary):
 * prom-client hashes and checks the labels on every inc, and an OCSP answer counts twice on the hot
 * path (docs/architecture.md "Hot paths").
 */
export class Tallies<T extends string> {
  private readonly pending: { readonly labels: Partial<Record<T, string>>; n: number }[] = [];

  constructor(private readonly counter: Counter<T>) {
    const hooked = counter as Counter<T> & { collect?: (this: Counter<T>) => void | Promise<void> };
    const previous = hooked.collect;
    hooked.collect = function () {
      flush();
      return previous?.call(this);
    };
    const flush = (): void => {
      for (const t of this.pending)
        if (t.n > 0) {
          this.counter.inc(t.labels, t.n);
          t.n = 0;
        }
    };
  }

  /** The increment for one label set: look it up once, call it per event. */
  of(labels: Partial<Record<T, string>>): () => void {
    const t = { labels, n: 0 };
    this.pending.push(t);
    return () => void t.n++;
  }
}
