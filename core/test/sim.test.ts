/**
 * The simulation's own machinery: the event queue (order, cancellation),
 * the seeded PRNG's bounded integers, the invalidation array a
 * running invalidation reads while attaches change the domain, the log of
 * API calls, and the kernel's reuse of freed pages.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { queueInit, queuePeek, queuePop, queuePush, queueRemove, queueSize } from '../sim/queue.ts';
import { prngBelow, prngInit, prngInt, prngNext, reduceBelow } from '../sim/prng.ts';
import { invsAdd, invsRemove } from '../kernel/driver.ts';
import type { KDomain, KMaster } from '../kernel/state.ts';
import { CallLog, type CallRecord } from '../sim/context.ts';
import { errnoString } from '../scenario/types.ts';
import { PTE_INVALID, memInit, pageAlloc, pageFree } from '../hw/memory.ts';
import { Simulation } from '../engine.ts';
import { resolve, scenario } from './support.ts';

type Op = { k: 'push'; t: number; pri: number } | { k: 'cancel'; pick: number } | { k: 'pop' };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('push' as const), t: fc.integer({ min: 0, max: 20 }), pri: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ k: fc.constant('cancel' as const), pick: fc.nat() }),
  fc.record({ k: fc.constant('pop' as const) }),
);

describe('event queue', () => {
  it('pops live events in (time, priority, insertion) order, whatever was cancelled; a cancelled event leaves the heap', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 400 }), (ops) => {
        const q = queueInit<number>();
        // Reference: the live entries, popped by sorting.
        let live: Array<{ t: number; pri: number; seq: number }> = [];
        const issued: number[] = [];
        for (const op of ops) {
          if (op.k === 'push') {
            const seq = queuePush(q, op.t, issued.length, op.pri);
            issued.push(seq);
            live.push({ t: op.t, pri: op.pri, seq });
          } else if (op.k === 'cancel') {
            if (issued.length === 0) continue;
            const seq = issued[op.pick % issued.length]!;
            queueRemove(q, seq);
            live = live.filter((e) => e.seq !== seq);
          } else {
            live.sort((a, b) => a.t - b.t || a.pri - b.pri || a.seq - b.seq);
            const want = live.shift();
            const got = queuePop(q);
            expect(got?.seq).toBe(want?.seq);
          }
          expect(queueSize(q)).toBe(live.length);
          expect(q.heap.length).toBe(live.length);
        }
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('after most entries are cancelled, the rest and later ones still pop in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 50 }), pri: fc.integer({ min: 0, max: 1 }), cancel: fc.boolean() }), {
          minLength: 80,
          maxLength: 300,
        }),
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 20 }),
        (entries, later) => {
          const q = queueInit<number>();
          const seqs = entries.map((e, i) => queuePush(q, e.t, i, e.pri));
          // Cancel at least 40 of them, from anywhere in the heap.
          entries.forEach((e, i) => {
            if (e.cancel || i < 40) queueRemove(q, seqs[i]!);
          });
          const more = later.map((t, j) => queuePush(q, t, entries.length + j));
          const want = [
            ...entries.map((e, i) => ({ t: e.t, pri: e.pri, seq: seqs[i]!, gone: e.cancel || i < 40 })).filter((e) => !e.gone),
            ...later.map((t, j) => ({ t, pri: 1, seq: more[j]! })),
          ]
            .sort((a, b) => a.t - b.t || a.pri - b.pri || a.seq - b.seq)
            .map((e) => e.seq);
          const got: number[] = [];
          for (let e = queuePop(q); e; e = queuePop(q)) got.push(e.seq);
          expect(got).toEqual(want);
        },
      ),
      { seed: 12, numRuns: 200 },
    );
  });

  it('cancelling many timers leaves only the live events in the heap', () => {
    const q = queueInit<string>();
    queuePush(q, 5, 'live');
    for (let i = 0; i < 1000; i++) queueRemove(q, queuePush(q, 1e9 + i, 'timer'));
    expect(queueSize(q)).toBe(1);
    expect(q.heap.length).toBe(1);
    expect(queuePeek(q)?.ev).toBe('live');
  });

  it('cancelling twice, or an event already run, changes nothing', () => {
    const q = queueInit<string>();
    const a = queuePush(q, 1, 'a');
    const b = queuePush(q, 2, 'b');
    expect(queuePop(q)?.ev).toBe('a');
    queueRemove(q, a);
    queueRemove(q, b);
    queueRemove(q, b);
    expect(queueSize(q)).toBe(0);
    expect(queuePop(q)).toBeUndefined();
  });
});

describe('PRNG', () => {
  it('prngBelow(span, 1/span) is exactly the next value modulo span', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1, max: 2 ** 32 }), (seed, span) => {
        const a = prngInit(seed);
        const b = prngInit(seed);
        for (let i = 0; i < 50; i++) expect(prngBelow(a, span, 1 / span)).toBe(prngNext(b) % span);
      }),
      { seed: 5, numRuns: 500 },
    );
  });

  it('values next to a multiple of the span (where the quotient estimate can be off by one)', () => {
    for (const span of [3, 1001, 65_537, 12_345_679, 2 ** 31 - 1]) {
      for (let q = 1; q * span < 2 ** 32; q = Math.ceil(q * 1.7)) {
        for (const x of [q * span - 1, q * span, q * span + 1]) {
          if (x >= 2 ** 32) continue;
          expect(reduceBelow(x, span, 1 / span)).toBe(x % span);
        }
      }
    }
  });

  // sfc32 one step at a time, as its authors write it: the generator and
  // snapshots of it must hand out exactly this sequence.
  function sfc32(seedState: { a: number; b: number; c: number; d: number }): () => number {
    let { a, b, c, d } = seedState;
    return () => {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + t) | 0;
      return t >>> 0;
    };
  }

  /** The reference: sfc32 seeded by splitmix32 and warmed up by 12 draws, one output at a time. */
  function reference(seed: number): () => number {
    let s = seed >>> 0;
    const sm = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    const ref = sfc32({ a: sm() | 0, b: sm() | 0, c: sm() | 0, d: sm() | 0 });
    for (let i = 0; i < 12; i++) ref();
    return ref;
  }

  it("hands out sfc32's outputs in order, and the same again from a snapshot taken anywhere", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.nat({ max: 200 }), (seed, cut) => {
        const ref = reference(seed);
        const want = Array.from({ length: 256 }, () => ref());
        const st = prngInit(seed);
        const got = Array.from({ length: cut }, () => prngNext(st));
        const snap = structuredClone(st);
        const rest = Array.from({ length: want.length - cut }, () => prngNext(st));
        const restAgain = Array.from({ length: want.length - cut }, () => prngNext(snap));
        expect([...got, ...rest]).toEqual(want);
        expect(restAgain).toEqual(rest);
      }),
      { seed: 11, numRuns: 200 },
    );
  });

  it('prngInt stays in [lo, hi] and is the same sequence for the same seed', () => {
    const a = prngInit(99);
    const b = prngInit(99);
    for (let i = 0; i < 1000; i++) {
      const v = prngInt(a, 10, 1010);
      expect(v).toBeGreaterThanOrEqual(10);
      expect(v).toBeLessThanOrEqual(1010);
      expect(prngInt(b, 10, 1010)).toBe(v);
    }
  });
});

describe('arm_smmu_invs', () => {
  const dom = (): KDomain => ({ id: 'd', type: 'paging', index: 0, asid: 1, ttb: 0, invs: [], mapped: new Map() });
  const master = (bdf: string, sids: number[]): KMaster => ({
    bdf,
    sids,
    atsCap: true,
    pasidCap: false,
    driver: 'nvme',
    atsEnabled: true,
    atsBroken: false,
    atsBrokenSinceNs: 0,
    domain: null,
    pasids: {},
    cdTab: 0,
    present: true,
  });

  it('an attach or detach replaces the array: an invalidation holding the old one sees it unchanged (RCU)', () => {
    const d = dom();
    invsAdd(d, master('a', [0x100]), true, 0);
    const held = d.invs;
    // The entries, without the shared `users` count (which nothing reading the old array uses).
    const entries = (invs: KDomain['invs']) => invs.map((x) => `${x.type}:${x.id}:${x.ssid}:${x.master}`);
    const before = entries(held);
    invsAdd(d, master('b', [0x101, 0x102]), true, 0);
    expect(d.invs).not.toBe(held);
    expect(entries(held)).toEqual(before);
    expect(d.invs.map((x) => `${x.type}:${x.id}`)).toEqual(['S1_ASID:1', 'ATS:256', 'ATS:257', 'ATS:258']);
    const held2 = d.invs;
    invsRemove(d, master('a', [0x100]), null);
    expect(held2.map((x) => `${x.type}:${x.id}`)).toEqual(['S1_ASID:1', 'ATS:256', 'ATS:257', 'ATS:258']);
    expect(d.invs.map((x) => `${x.type}:${x.id}`)).toEqual(['S1_ASID:1', 'ATS:257', 'ATS:258']);
  });
});

type CallOp =
  | { k: 'call'; fn: string; args: string[]; ret: number | string }
  | { k: 'range'; dom: string; iova: number; pages: number; ret: number }
  | { k: 'cut'; pick: number };

describe('call log', () => {
  const arbCall: fc.Arbitrary<CallOp> = fc.oneof(
    fc.record({
      k: fc.constant('call' as const),
      fn: fc.constantFrom('iommu_attach_group', 'pci_dev_reset_iommu_done'),
      args: fc.array(fc.string(), { maxLength: 3 }),
      ret: fc.constantFrom<number | string>(0, -5, -16, -19, -25, 'true', 'false'),
    }),
    fc.record({
      k: fc.constant('range' as const),
      dom: fc.constantFrom('dma0', 'dma1'),
      iova: fc.integer({ min: 0, max: 2 ** 48 }),
      pages: fc.integer({ min: 1, max: 512 }),
      ret: fc.constantFrom(0, -12, -17),
    }),
    fc.record({ k: fc.constant('cut' as const), pick: fc.nat() }),
  );

  it("keeps every call of a long run (its numbers' column grows from room for 64)", () => {
    const log = new CallLog(errnoString);
    for (let i = 0; i < 1000; i++)
      log.pushRange(i * 1000, 'iommu_map', 'dma0', 0x10_0000 + i * 4096, 1 + (i % 3), i % 7 === 0 ? -5 : 0, i);
    log.push(1_000_000, 'iommu_report_device_broken', ['0000:01:00.0'], 'true', 1000);
    expect(log.length).toBe(1001);
    const all = log.slice();
    all.slice(0, 1000).forEach((c, i) => {
      expect(c).toEqual({
        atUs: i,
        fn: 'iommu_map',
        args: ['dma0', '0x' + (0x10_0000 + i * 4096).toString(16), '0x' + ((1 + (i % 3)) * 4096).toString(16)],
        ret: i % 7 === 0 ? '-EIO' : '0',
        traceId: i,
      });
    });
    expect(all[1000]).toEqual({
      atUs: 1000,
      fn: 'iommu_report_device_broken',
      args: ['0000:01:00.0'],
      ret: 'true',
      traceId: 1000,
    });
  });

  it('reads back every call as the record the kernel model made, through cuts (snapshot restores)', () => {
    fc.assert(
      fc.property(fc.array(arbCall, { maxLength: 300 }), (ops) => {
        const log = new CallLog(errnoString);
        const want: CallRecord[] = [];
        const errno: Record<number, string> = {
          0: '0',
          [-5]: '-EIO',
          [-16]: '-EBUSY',
          [-19]: '-ENODEV',
          [-25]: '-ENOTTY',
          [-12]: '-ENOMEM',
          [-17]: '-17',
        };
        ops.forEach((op, i) => {
          if (op.k === 'cut') {
            const n = want.length === 0 ? 0 : op.pick % (want.length + 1);
            log.truncate(n);
            want.length = n;
            return;
          }
          const startNs = i * 1500;
          if (op.k === 'call') {
            log.push(startNs, op.fn, op.args, op.ret, i);
            want.push({
              atUs: startNs / 1000,
              fn: op.fn,
              args: op.args,
              ret: typeof op.ret === 'string' ? op.ret : errno[op.ret]!,
              traceId: i,
            });
          } else {
            // iommu_map() returns 0 or -errno; iommu_unmap() the bytes it unmapped (a size_t, in hex).
            const unmap = op.ret === 0 && i % 2 === 0;
            const ret = unmap ? op.pages * 4096 : op.ret;
            log.pushRange(startNs, unmap ? 'iommu_unmap' : 'iommu_map', op.dom, op.iova, op.pages, ret, i, unmap);
            want.push({
              atUs: startNs / 1000,
              fn: unmap ? 'iommu_unmap' : 'iommu_map',
              args: [op.dom, '0x' + op.iova.toString(16), '0x' + (op.pages * 4096).toString(16)],
              ret: unmap ? '0x' + ret.toString(16) : errno[op.ret]!,
              traceId: i,
            });
          }
        });
        expect(log.length).toBe(want.length);
        expect(log.slice()).toEqual(want);
        expect([...log]).toEqual(want);
        expect(log.slice(1, 3)).toEqual(want.slice(1, 3));
        expect(log.slice(-2)).toEqual(want.slice(-2));
        expect(log.slice(1, -1)).toEqual(want.slice(1, -1));
        expect(log.at(-1)).toEqual(want.at(-1));
        expect(log.at(want.length)).toBeUndefined();
      }),
    );
  });

  // Issue 12, point 8: iommu_unmap() takes a size in bytes and returns the bytes unmapped (a size_t);
  // the list showed a page count and 0, which reads as a failure.
  it('a run lists iommu_map and iommu_unmap with the domain, the IOVA and the size in bytes; unmap returns the bytes unmapped', () => {
    const sim = new Simulation(
      resolve(
        scenario({
          steps: [
            { at: 0, op: 'map', domain: 'dma0', iova: '0x1000000000', pages: 2 },
            { at: 5, op: 'unmap', domain: 'dma0', iova: '0x1000000000', pages: 2 },
          ],
        }),
      ),
      { trace: false },
    );
    sim.run();
    expect(sim.result().calls).toEqual([
      { atUs: 0, fn: 'iommu_map', args: ['dma0', '0x1000000000', '0x2000'], ret: '0' },
      { atUs: 5, fn: 'iommu_unmap', args: ['dma0', '0x1000000000', '0x2000'], ret: '0x2000' },
    ]);
  });

  // __iommu_unmap() stops at the first page the page table does not map (unmap_pages() returns 0
  // there): it returns what it unmapped before it, and invalidates only that.
  it('iommu_unmap stops at the first page that is not mapped, and an unmapped range returns 0', () => {
    const sim = new Simulation(
      resolve(
        scenario({
          steps: [
            { at: 0, op: 'map', domain: 'dma0', iova: '0x100000', pages: 2 },
            { at: 0, op: 'map', domain: 'dma0', iova: '0x103000', pages: 1 },
            { at: 5, op: 'unmap', domain: 'dma0', iova: '0x100000', pages: 4 },
            { at: 10, op: 'unmap', domain: 'dma0', iova: '0x102000', pages: 1 },
          ],
        }),
      ),
      { trace: true },
    );
    sim.run();
    const unmaps = sim.result().calls.filter((c) => c.fn === 'iommu_unmap');
    expect(unmaps.map((c) => [c.args[2], c.ret])).toEqual([
      ['0x4000', '0x2000'],
      ['0x1000', '0'],
    ]);
    // The page at 0x103000 stays mapped.
    expect(sim.world.k.domains.get('dma0')!.mapped.get(0x103)).not.toBe(PTE_INVALID);
  });
});

describe('page reuse', () => {
  it("gives never-used pages first, then freed pages oldest first, each once, across the ring's wrap", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.boolean(), { minLength: 40, maxLength: 300 }), (pages, ops) => {
        const m = memInit(pages);
        const held: number[] = [];
        const freed: number[] = [];
        let fresh = 0;
        for (const alloc of ops) {
          if (alloc) {
            const pfn = pageAlloc(m, 0);
            if (fresh < pages) expect(pfn).toBe(fresh++);
            else expect(pfn).toBe(freed.length ? freed.shift() : -1);
            if (pfn >= 0) held.push(pfn);
          } else if (held.length > 0) {
            const pfn = held.splice(held.length >> 1, 1)[0]!;
            pageFree(m, pfn);
            freed.push(pfn);
          }
        }
      }),
    );
  });
});

describe('finished tasks', () => {
  it('are reused by the next spawn with a new id, name and frames, nothing of the old task left', () => {
    // Four unmaps, one task each: the first task object serves all four.
    const s = scenario({
      groups: [0, 1].map((g) => ({
        id: g,
        domain: `dma${g}`,
        devices: [{ bdf: `0000:0${g + 1}:00.0`, sids: [256 + g], ats: true, pasid: false, driver: 'nvme' }],
      })),
      steps: [0, 1, 2, 3].flatMap((k) => [
        { at: k * 100, op: 'map' as const, domain: `dma${k % 2}`, iova: '0x10000', pages: 1 },
        { at: k * 100 + 10, op: 'unmap' as const, domain: `dma${k % 2}`, iova: '0x10000', pages: 1 },
      ]),
    });
    const sim = new Simulation(resolve(s), { trace: false });
    const seen: Array<{ obj: object; id: number; name: string; fn: string; depth: number; wait: string }> = [];
    while (sim.step()) {
      for (const t of sim.world.k.tasks) {
        if (!seen.some((x) => x.id === t.id)) {
          seen.push({ obj: t, id: t.id, name: t.name, fn: t.stack[0]!.fn, depth: t.stack.length, wait: t.wait?.kind ?? 'none' });
        }
        expect(t.ids.length).toBe(t.stack.length);
      }
    }
    expect(seen.map((x) => [x.id, x.name, x.fn])).toEqual(
      [1, 2, 3, 4].map((id) => [id, `unmap dma${(id - 1) % 2}`, 'iommu_unmap']),
    );
    expect(seen.every((x) => x.obj === seen[0]!.obj && x.wait === 'poll')).toBe(true);
    expect(sim.world.k.tasks).toHaveLength(0);
    expect(sim.world.k.taskPool).toHaveLength(1);
    expect(
      sim
        .result()
        .calls.filter((c) => c.fn === 'iommu_unmap')
        .map((c) => c.ret),
    ).toEqual(['0x1000', '0x1000', '0x1000', '0x1000']);
  });
});
