/**
 * The responder's in-memory cache (services/ocsp/src/ring-cache.ts): bounded, the oldest out on
 * `set`, and `offer` (how pre-signed answers read from the store get in, issue 17) takes a slot only
 * from an entry not served since the hand last passed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RingCache } from '@evpki/ocsp-responder';

const never = (): boolean => false;
const keys = (c: RingCache<number>, all: readonly string[]): string[] => all.filter((k) => c.has(k));

describe('RingCache', () => {
  it('set: at most `capacity` entries, a new key replaces the oldest, a held key is replaced in place', () => {
    const c = new RingCache<number>(3);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) c.set(k, i);
    assert.deepEqual(keys(c, ['a', 'b', 'c', 'd']), ['b', 'c', 'd']);
    c.set('b', 10); // in place: b keeps its slot, still the oldest
    assert.equal(c.get('b'), 10);
    c.set('e', 4);
    assert.deepEqual(keys(c, ['b', 'c', 'd', 'e']), ['c', 'd', 'e']);
    assert.deepEqual([...c.values()].sort((x, y) => x - y), [2, 3, 4]);
  });

  it('offer: free slots first; a full cache keeps an entry served since the hand last passed, once', () => {
    const c = new RingCache<number>(2);
    assert.ok(c.offer('a', 1, never));
    assert.ok(c.offer('b', 2, never));
    c.get('a'); // served: it gets a second chance
    assert.equal(c.offer('x', 3, never), false, 'a was served: x does not take its slot');
    assert.ok(c.offer('y', 4, never), 'b was never served: y takes its slot');
    assert.deepEqual(keys(c, ['a', 'b', 'x', 'y']), ['a', 'y']);
    // The hand is back at a, whose second chance is used up.
    assert.ok(c.offer('z', 5, never));
    assert.deepEqual(keys(c, ['a', 'y', 'z']), ['y', 'z']);
  });

  it('offer: a served entry goes when `expendable` says so (e.g. past its half-life); a held key is replaced in place', () => {
    const c = new RingCache<number>(1);
    c.offer('a', 1, never);
    c.get('a');
    assert.ok(c.offer('b', 2, (held) => held === 1));
    assert.deepEqual(keys(c, ['a', 'b']), ['b']);
    assert.ok(c.offer('b', 3, never));
    assert.equal(c.get('b'), 3);
  });

  it('clear and delete: nothing held afterwards, and the slots are free again (A00.FR.704: a revocation empties it)', () => {
    const c = new RingCache<number>(2);
    c.set('a', 1);
    c.set('b', 2);
    c.get('a');
    c.get('b');
    c.clear();
    assert.deepEqual([...c.values()], []);
    assert.ok(c.offer('x', 3, never) && c.offer('y', 4, never));
    c.get('x');
    c.delete('x');
    assert.equal(c.get('x'), undefined);
    assert.ok(c.offer('z', 5, never), 'the deleted entry left its slot free');
    assert.deepEqual(keys(c, ['x', 'y', 'z']), ['y', 'z']);
  });
});
