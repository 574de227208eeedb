/**
 * Physical memory as 4 KiB pages with owners, plus the in-memory structures
 * the SMMU walks: IO page tables (written by the kernel's io-pgtable code,
 * read by the SMMU) and context-descriptor tables.
 *
 * Page ownership: PAGE_FREE (never used), PAGE_KERNEL (freed by an unmap and
 * reused by the kernel at once), or a domain index (mapped for DMA). `gen`
 * counts ownership changes, so a translation cached before a free can be
 * recognised as stale afterwards.
 */
export const PAGE_FREE = -1;
export const PAGE_KERNEL = -2;
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
/**
 * An IO page-table entry with its valid bit clear: an unmap leaves the entry
 * in place, invalid (as the io-pgtable code clears a PTE), so mapping and
 * unmapping the same IOVA over and over does not grow and shrink the table.
 */
export const PTE_INVALID = -1;

export interface MemState {
  pages: number;
  owner: Int32Array;
  gen: Uint32Array;
  /** 1 where a write through a stale ATC entry landed while someone else owned the page. */
  corrupted: Uint8Array;
  /**
   * Pages the kernel took back after an unmap, oldest first (given back
   * under pressure): a ring of `pages` slots from `reuseHead`, `reuseLen`
   * long. A page is in it at most once (it leaves when allocated again).
   */
  reuse: Int32Array;
  reuseHead: number;
  reuseLen: number;
  /** No page below this index is PAGE_FREE (pages never return to it). */
  freshFrom: number;
  /** IO page tables: ttb → iova pfn → pfn, or PTE_INVALID. */
  pgtables: Map<number, Map<number, number>>;
  /** Context-descriptor tables by base address: 16 words per CD. */
  cdTables: Record<number, Uint32Array>;
}

export function memInit(pages: number): MemState {
  return {
    pages,
    owner: new Int32Array(pages).fill(PAGE_FREE),
    gen: new Uint32Array(pages),
    corrupted: new Uint8Array(pages),
    reuse: new Int32Array(pages),
    reuseHead: 0,
    reuseLen: 0,
    freshFrom: 0,
    pgtables: new Map(),
    cdTables: {},
  };
}

/** Allocate a page for `owner` (never-used pages first, then pages the kernel gives back). -1 if none. */
export function pageAlloc(m: MemState, owner: number): number {
  let pfn = -1;
  for (let i = m.freshFrom; i < m.pages; i++)
    if (m.owner[i] === PAGE_FREE) {
      pfn = i;
      break;
    }
  m.freshFrom = pfn < 0 ? m.pages : pfn + 1;
  if (pfn < 0) {
    if (m.reuseLen === 0) return -1;
    pfn = m.reuse[m.reuseHead]!;
    m.reuseHead = m.reuseHead + 1 === m.pages ? 0 : m.reuseHead + 1;
    m.reuseLen--;
  }
  m.owner[pfn] = owner;
  m.gen[pfn] = (m.gen[pfn]! + 1) >>> 0;
  return pfn;
}

/** Free a page after unmap: the kernel reuses it at once (it is owned by someone else from now on). */
export function pageFree(m: MemState, pfn: number): void {
  m.owner[pfn] = PAGE_KERNEL;
  m.gen[pfn] = (m.gen[pfn]! + 1) >>> 0;
  const tail = m.reuseHead + m.reuseLen;
  m.reuse[tail >= m.pages ? tail - m.pages : tail] = pfn;
  m.reuseLen++;
}

/** The IO page table at `ttb`, created empty on first use. */
export function pgtableOf(m: MemState, ttb: number): Map<number, number> {
  let t = m.pgtables.get(ttb);
  if (t === undefined) {
    t = new Map();
    m.pgtables.set(ttb, t);
  }
  return t;
}
