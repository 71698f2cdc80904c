/**
 * The page reader of the list indexes (libs/store list-index.ts), on an index in memory: a page
 * reads at most its scan budget of index entries when the index does not apply every filter, and
 * its cursor goes on where it stopped, so that every match is found once, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIST_SCAN_BUDGET, readPage, timeKey, type IndexSource, type ListPlan } from '@evpki/store';

/** Members "<15-digit n> <id>" for n = 0..size-1, and how many records the reader loaded. */
function memoryIndex(size: number): { src: IndexSource<number>; loaded: () => number } {
  const members = Array.from({ length: size }, (_, n) => `${timeKey(n)} id${n}`);
  let loaded = 0;
  return {
    src: {
      async members(_index, from, to, after, n) {
        return members.filter((m) => m >= from && m < to && (after === undefined || m > after)).slice(0, n);
      },
      async records(ids) {
        loaded += ids.length;
        return ids.map((id) => Number(id.slice(2)));
      },
    },
    loaded: () => loaded,
  };
}

const plan = (accept: (n: number) => boolean): ListPlan<number> => ({ index: ['test'], from: '', to: '\uffff', accept: (n) => accept(n) });

test('a sparse filter: each page reads at most the budget, the pages together find every match once, in order', async () => {
  const { src, loaded } = memoryIndex(5_000);
  const found: number[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const before = loaded();
    const page = await readPage(src, plan((n) => n % 1_700 === 3), { limit: 10, ...(after === undefined ? {} : { after }) }, 400);
    assert.ok(loaded() - before <= 401, `page ${pages}: ${loaded() - before} records read`);
    found.push(...page.items);
    after = page.next;
    pages++;
  } while (after !== undefined);
  assert.deepEqual(found, [3, 1_703, 3_403]);
  assert.equal(pages, Math.ceil(5_000 / 400), 'a page per budget, some of them empty');
});

test('a full page stops at the limit; the last page has no cursor; the default budget is bounded', async () => {
  const { src } = memoryIndex(25);
  const first = await readPage(src, plan(() => true), { limit: 10 });
  assert.deepEqual([first.items, first.next], [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], `${timeKey(9)} id9`]);
  const last = await readPage(src, plan(() => true), { limit: 15, after: first.next! });
  assert.deepEqual([last.items.length, last.next], [15, undefined]);
  assert.ok(LIST_SCAN_BUDGET <= 1_000);
});
