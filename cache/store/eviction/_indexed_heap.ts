/**
 * A binary min-heap whose entries know their position, so a key's priority can change or the
 * key can be removed in O(log n). Private to the heap policies (GDSF, LFUDA).
 *
 * @module
 */

/** One heap entry; `pos` is maintained by the heap. */
export interface HeapEntry<K> {
  key: K;
  /** Priority: smallest is evicted first. */
  prio: number;
  /** Tie-breaker: smaller (older) first. */
  seq: number;
  pos: number;
}

/** Min-heap over (prio, seq). */
export class IndexedHeap<K> {
  #a: HeapEntry<K>[] = [];

  /** Number of entries. */
  get length(): number {
    return this.#a.length;
  }

  /** The smallest entry without removing it. */
  peek(): HeapEntry<K> | undefined {
    return this.#a[0];
  }

  /** Adds an entry. */
  push(e: HeapEntry<K>): void {
    e.pos = this.#a.length;
    this.#a.push(e);
    this.#up(e.pos);
  }

  /** Removes and returns the smallest entry. */
  pop(): HeapEntry<K> | undefined {
    const top = this.#a[0];
    if (top) this.remove(top);
    return top;
  }

  /** Removes an entry that is in the heap. */
  remove(e: HeapEntry<K>): void {
    const i = e.pos;
    const last = this.#a.pop()!;
    if (last !== e) {
      this.#a[i] = last;
      last.pos = i;
      this.update(last);
    }
    e.pos = -1;
  }

  /** Restores order after `e.prio` or `e.seq` changed. */
  update(e: HeapEntry<K>): void {
    this.#up(e.pos);
    this.#down(e.pos);
  }

  #less(x: HeapEntry<K>, y: HeapEntry<K>): boolean {
    return x.prio < y.prio || (x.prio === y.prio && x.seq < y.seq);
  }

  #up(i: number): void {
    const a = this.#a;
    const e = a[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(e, a[p])) break;
      a[i] = a[p];
      a[i].pos = i;
      i = p;
    }
    a[i] = e;
    e.pos = i;
  }

  #down(i: number): void {
    const a = this.#a;
    const n = a.length;
    const e = a[i];
    if (!e) return;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#less(a[r], a[l]) ? r : l;
      if (!this.#less(a[c], e)) break;
      a[i] = a[c];
      a[i].pos = i;
      i = c;
    }
    a[i] = e;
    e.pos = i;
  }
}
