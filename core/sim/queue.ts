/**
 * Deterministic event queue: a binary min-heap ordered by (time, priority,
 * seq). `seq` is assigned at insertion, so events at the same virtual time
 * and priority run in the order they were scheduled. Scenario steps use
 * priority 0 and everything else 1, so a step added at time T behaves exactly
 * as if it had been in the scenario file from the start. Entries are plain
 * data (snapshot-safe).
 */
export interface QEntry<E> { t: number; pri: number; seq: number; ev: E }

export interface QueueState<E> {
  heap: QEntry<E>[];
  seq: number;
  /** Sequence numbers of cancelled entries still in the heap (skipped when they reach the top). */
  cancelled: Set<number>;
}

export function queueInit<E>(): QueueState<E> { return { heap: [], seq: 0, cancelled: new Set() }; }

function less<E>(x: QEntry<E>, y: QEntry<E>): boolean {
  return x.t < y.t || (x.t === y.t && (x.pri < y.pri || (x.pri === y.pri && x.seq < y.seq)));
}

export function queuePush<E>(q: QueueState<E>, t: number, ev: E, pri = 1): number {
  const h = q.heap;
  const e: QEntry<E> = { t, pri, seq: q.seq++, ev };
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(h[i]!, h[p]!)) break;
    [h[i], h[p]] = [h[p]!, h[i]!];
    i = p;
  }
  return e.seq;
}

export function queuePeek<E>(q: QueueState<E>): QEntry<E> | undefined {
  dropCancelled(q);
  return q.heap[0];
}

function dropCancelled<E>(q: QueueState<E>): void {
  while (q.cancelled.size > 0 && q.heap.length > 0 && q.cancelled.has(q.heap[0]!.seq)) {
    q.cancelled.delete(q.heap[0]!.seq);
    popTop(q);
  }
}

export function queuePop<E>(q: QueueState<E>): QEntry<E> | undefined {
  dropCancelled(q);
  return popTop(q);
}

function popTop<E>(q: QueueState<E>): QEntry<E> | undefined {
  const h = q.heap;
  if (h.length === 0) return undefined;
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && less(h[l]!, h[m]!)) m = l;
      if (r < h.length && less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
  return top;
}

/** Cancel the event with sequence number `seq` (a timer that is no longer needed). O(1): it is skipped when it reaches the top. */
export function queueRemove<E>(q: QueueState<E>, seq: number): void {
  if (seq >= 0 && seq < q.seq) q.cancelled.add(seq);
}

/** Number of live (not cancelled) entries. */
export function queueSize<E>(q: QueueState<E>): number {
  return q.heap.length - q.cancelled.size;
}
