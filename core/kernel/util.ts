/** Shared helpers for the kernel model. */
import { emit, note } from './trace.ts';
import { gdevSend } from '../machines/drive.ts';
import type { GdevEvent, Blocked } from '../machines/groupDevice.machine.ts';
import { ERRNO, errnoString } from '../scenario/types.ts';
import { rangeArgs, sizeString } from '../sim/context.ts';
import type { KGdev, KGroup, KMaster, KWorld } from './state.ts';

export const EIO = -ERRNO.EIO!;
export const EBUSY = -ERRNO.EBUSY!;
export const ENODEV = -ERRNO.ENODEV!;
export const EINVAL = -ERRNO.EINVAL!;
export const ENOTTY = -ERRNO.ENOTTY!;
export const ETIMEDOUT = -ERRNO.ETIMEDOUT!;
export const ENOMEM = -ERRNO.ENOMEM!;
export const EOPNOTSUPP = -ERRNO.EOPNOTSUPP!;
export const EEXIST = -17;

export function masterOf(w: KWorld, bdf: string): KMaster | undefined {
  return w.k.masters[bdf];
}
export function blockedOf(g: KGdev): Blocked {
  return g.m.value;
}
export function depthOf(g: KGdev): number {
  return g.m.context.reset_depth;
}
export function pendingOf(g: KGdev): boolean {
  return g.m.context.broken_pending;
}

export function groupMutex(gid: number): string {
  return `mutex:group${gid}`;
}
export function atsBrokenLock(bdf: string): string {
  return `spin:ats_broken_lock:${bdf}`;
}
export function pciDevLock(bdf: string): string {
  return `mutex:pci_dev_lock:${bdf}`;
}

/**
 * Send an event to a group_device's machine. The machine owns `blocked`,
 * `reset_depth` and `broken_pending`; an event it rejects is an invariant
 * violation (a transition the kernel cannot make).
 */
export function gdevEvent(w: KWorld, g: KGdev, ev: GdevEvent): boolean {
  const before = g.m;
  const next = gdevSend(before, ev);
  if (!next) {
    w.out.violations.push({
      t: w.s.nowNs,
      invariant: 'group_device-machine',
      message: `group_device ${g.bdf}: event ${ev.type}${'ok' in ev ? `(ok=${ev.ok})` : ''} is not allowed in state ${before.value} (reset_depth ${before.context.reset_depth}, broken_pending ${before.context.broken_pending})`,
      traceId: w.s.cause,
    });
    return false;
  }
  g.m = next;
  w.k.invDirty = true;
  emit(w, 'gdev.state', {
    bdf: g.bdf,
    event: ev.type,
    ...('ok' in ev ? { ok: ev.ok } : {}),
    from: before.value,
    to: next.value,
    resetDepth: next.context.reset_depth,
    brokenPending: next.context.broken_pending,
  });
  return true;
}

export function setRecoveryCnt(w: KWorld, grp: KGroup, v: number): void {
  grp.recoveryCnt = v;
  w.k.invDirty = true;
  note(w, 'recovery_cnt', { group: grp.id, value: v });
}

/** Record a kernel API call made by a step, with its return value. */
export function recordCall(w: KWorld, startNs: number, fn: string, args: string[], rv: number | string): void {
  const traceId = w.traceOn ? note(w, 'call', { fn, args, ret: typeof rv === 'string' ? rv : errnoString(rv) }) : -1;
  w.out.calls.push(startNs, fn, args, rv, traceId);
}

/**
 * recordCall() for a call over `pages` pages at `iova` in domain `dom`:
 * iommu_map() returns 0 or -errno; iommu_unmap() returns the bytes it
 * unmapped (`sizeRet`).
 */
export function recordRangeCall(
  w: KWorld,
  startNs: number,
  fn: 'iommu_map' | 'iommu_unmap',
  dom: string,
  iova: number,
  pages: number,
  rv: number,
): void {
  const sizeRet = fn === 'iommu_unmap';
  const traceId = w.traceOn
    ? note(w, 'call', { fn, args: rangeArgs(dom, iova, pages), ret: sizeRet ? sizeString(rv) : errnoString(rv) })
    : -1;
  w.out.calls.pushRange(startNs, fn, dom, iova, pages, rv, traceId, sizeRet);
}
