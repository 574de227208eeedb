/**
 * The IOMMU core (drivers/iommu/iommu.c as seed 003 leaves it, on upstream
 * with the nested-reset fix of seed 000): reset prepare/done with
 * reset_depth and recovery_cnt, __iommu_group_block_device(), the broken
 * worker, attach gating while a group recovers, deferred attach, device
 * removal, and iommu_map/unmap with invalidation before the pages are freed.
 */
import { emit } from './trace.ts';
import { BLOCKED_SEVERITY, type Blocked } from '../machines/groupDevice.machine.ts';
import { PTE_INVALID, pageAlloc, pageFree, pgtableOf } from '../hw/memory.ts';
import { endpointRemoved } from '../pci/endpoint.ts';
import { errnoString } from '../scenario/types.ts';
import {
  attachDevFrame,
  domainInvRangeFrame,
  releaseDeviceFrame,
  removeDevPasidFrame,
  resetDeviceDoneFrame,
  setDevPasidFrame,
} from './driver.ts';
import { FN, type FrameHead } from './fn.ts';
import { unlock } from './locks.ts';
import { call, lock, ret, reuseFrame, type Task, type Yield } from './task.ts';
import { devLog, devLogRatelimited, warnOn } from './printk.ts';
import {
  blockedOf,
  depthOf,
  EBUSY,
  EEXIST,
  EINVAL,
  ENODEV,
  ENOMEM,
  ENOTTY,
  gdevEvent,
  groupMutex,
  masterOf,
  pciDevLock,
  pendingOf,
  recordCall,
  recordRangeCall,
  setRecoveryCnt,
} from './util.ts';
import { BLOCKED_DOMAIN, type KWorld } from './state.ts';

const IOMMU_C = 'drivers/iommu/iommu.c';

/** pci_ats_supported(pdev) && dev_has_iommu(dev): otherwise prepare/done are no-ops. */
function resetIommuApplies(w: KWorld, bdf: string): boolean {
  const ep = w.pci.endpoints[bdf];
  const m = masterOf(w, bdf);
  return !!ep && ep.atsCap && !!m && m.present;
}

/* -------------------------------------------------------------------------- */

/** __iommu_group_block_device()'s locals. */
export interface BlockDeviceFrame extends FrameHead<'__iommu_group_block_device'> {
  /** start: attach the RID to the blocking domain; blocked: list the PASIDs; next_pasid: remove the next; removed. */
  pc: 'start' | 'blocked' | 'next_pasid' | 'removed';
  bdf: string;
  pasids: number[];
  i: number;
}

export function blockDeviceFrame(bdf: string): BlockDeviceFrame {
  return { fn: '__iommu_group_block_device', id: FN.__iommu_group_block_device, pc: 'start', startNs: -1, bdf, pasids: [], i: 0 };
}

/**
 * __iommu_group_block_device() (seed 003 #10): move the RID to the group's
 * blocking domain and remove the PASIDs. A device that is already blocked
 * only has its severity raised, by the caller's machine event. The caller
 * counts it in recovery_cnt in the same step as the event.
 */
function __iommu_group_block_device(w: KWorld, t: Task, f: BlockDeviceFrame): Yield {
  const g = w.k.gdevs[f.bdf]!;
  const grp = w.k.groups[g.group]!;
  const m = masterOf(w, f.bdf)!;
  for (;;) {
    switch (f.pc) {
      case 'start':
        if (blockedOf(g) !== 'NO') return ret(0);
        grp.blockingDomain = true; // __iommu_group_alloc_blocking_domain()
        f.pc = 'blocked';
        if (m.domain !== BLOCKED_DOMAIN) return call(attachDevFrame(f.bdf, BLOCKED_DOMAIN));
        continue;
      case 'blocked':
        if (t.rv) return ret(t.rv);
        f.pasids = m.pasidCap ? Object.keys(m.pasids).map(Number) : [];
        f.i = 0;
        f.pc = 'next_pasid';
        continue;
      case 'next_pasid':
        if (f.i >= f.pasids.length) return ret(0);
        f.pc = 'removed';
        return call(removeDevPasidFrame(f.bdf, f.pasids[f.i]!));
      case 'removed':
        f.i++;
        f.pc = 'next_pasid';
        continue;
    }
  }
}

/** pci_dev_reset_iommu_prepare()'s locals. */
export interface PrepareFrame extends FrameHead<'pci_dev_reset_iommu_prepare'> {
  /** start: take the group mutex; locked: block the device (or only count the nesting); blocked: the block returned. */
  pc: 'start' | 'locked' | 'blocked';
  bdf: string;
  gid: number;
  /** blocked before this prepare. */
  was: Blocked;
}

export function prepareFrame(bdf: string): PrepareFrame {
  return {
    fn: 'pci_dev_reset_iommu_prepare',
    id: FN.pci_dev_reset_iommu_prepare,
    pc: 'start',
    startNs: -1,
    bdf,
    gid: -1,
    was: 'NO',
  };
}

/** pci_dev_reset_iommu_prepare(): block the device for a reset; re-entrant through reset_depth. */
function pci_dev_reset_iommu_prepare(w: KWorld, t: Task, f: PrepareFrame): Yield {
  const out = (v: number): Yield => {
    recordCall(w, f.startNs, 'pci_dev_reset_iommu_prepare', [f.bdf], v);
    return ret(v);
  };
  switch (f.pc) {
    case 'start': {
      if (!resetIommuApplies(w, f.bdf)) return out(0);
      const g = w.k.gdevs[f.bdf];
      if (!g) return out(0);
      f.gid = g.group;
      f.pc = 'locked';
      return lock(groupMutex(f.gid));
    }
    case 'locked': {
      const g = w.k.gdevs[f.bdf];
      if (!g || !g.present) {
        warnOn(w, t.pid, IOMMU_C, 'pci_dev_reset_iommu_prepare', 'WARN_ON(!gdev)');
        unlock(w, t, groupMutex(f.gid));
        return out(ENODEV);
      }
      const grp = w.k.groups[g.group]!;
      if (!w.kcfg.flags.nestedResetFix) {
        // Before seed 000: one group->resetting_domain, re-entry not allowed.
        if (grp.devices.some((b) => w.k.gdevs[b] && depthOf(w.k.gdevs[b]!) > 0)) {
          warnOn(w, t.pid, IOMMU_C, 'pci_dev_reset_iommu_prepare', 'WARN_ON(group->resetting_domain)');
          unlock(w, t, groupMutex(f.gid));
          return out(EBUSY);
        }
      }
      if (depthOf(g) > 0) {
        // if (gdev->reset_depth++) return 0;
        gdevEvent(w, g, { type: 'PREPARE' });
        unlock(w, t, groupMutex(f.gid));
        return out(0);
      }
      f.was = blockedOf(g);
      f.pc = 'blocked';
      return call(blockDeviceFrame(f.bdf));
    }
    case 'blocked': {
      const g = w.k.gdevs[f.bdf]!;
      const grp = w.k.groups[g.group]!;
      if (t.rv) {
        unlock(w, t, groupMutex(f.gid));
        return out(t.rv);
      }
      if (f.was === 'NO') setRecoveryCnt(w, grp, grp.recoveryCnt + 1);
      gdevEvent(w, g, { type: 'PREPARE' });
      unlock(w, t, groupMutex(f.gid));
      return out(0);
    }
  }
}

/** pci_dev_reset_iommu_done()'s locals. */
export interface DoneFrame extends FrameHead<'pci_dev_reset_iommu_done'> {
  /**
   * start: take the group mutex; locked: decide (nested, failed, restore);
   * driver_done: the driver lifted its quarantine, re-attach the RID;
   * attached: list the PASIDs; next_pasid: restore the next; pasid_set; unblock.
   */
  pc: 'start' | 'locked' | 'driver_done' | 'attached' | 'next_pasid' | 'pasid_set' | 'unblock';
  bdf: string;
  result: number;
  gid: number;
  /** blocked before this done. */
  old: Blocked;
  pasids: Array<[pasid: number, domain: string]>;
  i: number;
}

export function doneFrame(bdf: string, result: number): DoneFrame {
  return {
    fn: 'pci_dev_reset_iommu_done',
    id: FN.pci_dev_reset_iommu_done,
    pc: 'start',
    startNs: -1,
    bdf,
    result,
    gid: -1,
    old: 'NO',
    pasids: [],
    i: 0,
  };
}

/**
 * pci_dev_reset_iommu_done(pdev, reset_result): the outermost call restores
 * the device after a successful reset; a failed one keeps it blocked
 * (seed 003 #04, #05, #11; upstream decrements reset_depth at the top).
 */
function pci_dev_reset_iommu_done(w: KWorld, t: Task, f: DoneFrame): Yield {
  const fl = w.kcfg.flags;
  const out = (): Yield => {
    recordCall(w, f.startNs, 'pci_dev_reset_iommu_done', [f.bdf, fl.resetResultAware ? errnoString(f.result) : '(no result)'], 0);
    return ret(0);
  };
  const leave = (): Yield => {
    unlock(w, t, groupMutex(f.gid));
    return out();
  };
  for (;;) {
    switch (f.pc) {
      case 'start': {
        if (!resetIommuApplies(w, f.bdf)) return out();
        const g = w.k.gdevs[f.bdf];
        if (!g) return out();
        f.gid = g.group;
        f.pc = 'locked';
        return lock(groupMutex(f.gid));
      }
      case 'locked': {
        const g = w.k.gdevs[f.bdf];
        if (!g || !g.present) {
          warnOn(w, t.pid, IOMMU_C, 'pci_dev_reset_iommu_done', 'WARN_ON(!gdev)');
          return leave();
        }
        const depth = depthOf(g);
        if (!fl.nestedResetFix) {
          if (depth === 0) return leave(); // prepare() was bypassed for the device
        } else if (depth === 0) {
          warnOn(w, t.pid, IOMMU_C, 'pci_dev_reset_iommu_done', 'WARN_ON(gdev->reset_depth == 0)');
          return leave();
        }
        if (depth > 1) {
          // Inner call of a nested reset: `if (--gdev->reset_depth) return;`
          gdevEvent(w, g, { type: 'RESET_DONE', ok: true });
          return leave();
        }
        if (fl.resetResultAware && f.result !== 0) {
          if (f.result === ENOTTY) {
            devLogRatelimited(
              w,
              'warn',
              'pci_dev_reset_iommu_done',
              f.bdf,
              'Reset may have been skipped. Keep it blocked conservatively',
            );
          } else {
            devLogRatelimited(w, 'err', 'pci_dev_reset_iommu_done', f.bdf, 'Reset failed. Keep it blocked to protect memory');
          }
          gdevEvent(w, g, { type: 'RESET_DONE', ok: false });
          return leave();
        }
        f.old = blockedOf(g);
        if (f.old === 'NO') {
          warnOn(w, t.pid, IOMMU_C, 'pci_dev_reset_iommu_done', 'WARN_ON(!gdev->blocked)');
          return leave();
        }
        // ops->reset_device_done(): the driver lifts its own quarantine.
        f.pc = 'driver_done';
        return call(resetDeviceDoneFrame(f.bdf));
      }
      case 'driver_done': {
        const g = w.k.gdevs[f.bdf]!;
        // Neutralise a stale pre-reset report (seed 003 #11).
        if (fl.coreQuarantine) gdevEvent(w, g, { type: 'CLEAR_BROKEN_PENDING' });
        const grp = w.k.groups[g.group]!;
        const target = grp.domain;
        const m = masterOf(w, f.bdf)!;
        f.pc = 'attached';
        if (target !== null && m.domain !== target) return call(attachDevFrame(f.bdf, target));
        continue;
      }
      case 'attached': {
        const g = w.k.gdevs[f.bdf]!;
        const grp = w.k.groups[g.group]!;
        const m = masterOf(w, f.bdf)!;
        f.pasids = m.pasidCap ? Object.entries(grp.pasidArray).map(([p, d]): [number, string] => [Number(p), d]) : [];
        f.i = 0;
        f.pc = 'next_pasid';
        continue;
      }
      case 'next_pasid':
        if (f.i < f.pasids.length) {
          f.pc = 'pasid_set';
          const [pasid, dom] = f.pasids[f.i]!;
          return call(setDevPasidFrame(f.bdf, pasid, dom));
        }
        f.pc = 'unblock';
        continue;
      case 'pasid_set':
        f.i++;
        f.pc = 'next_pasid';
        continue;
      case 'unblock': {
        const g = w.k.gdevs[f.bdf]!;
        const grp = w.k.groups[g.group]!;
        gdevEvent(w, g, { type: 'RESET_DONE', ok: true });
        if (grp.recoveryCnt === 0) warnOn(w, t.pid, IOMMU_C, 'pci_dev_reset_iommu_done', 'WARN_ON(group->recovery_cnt == 0)');
        else setRecoveryCnt(w, grp, grp.recoveryCnt - 1);
        if (fl.resetResultAware && BLOCKED_SEVERITY[f.old] > BLOCKED_SEVERITY.RESETTING) {
          devLog(w, 'info', f.bdf, 'Device is unblocked after successful reset');
        }
        return leave();
      }
    }
  }
}

/** iommu_group_broken_worker()'s locals. */
export interface BrokenWorkerFrame extends FrameHead<'iommu_group_broken_worker'> {
  /** start: take the group mutex; locked: block the device; blocked: the block returned. */
  pc: 'start' | 'locked' | 'blocked';
  bdf: string;
  gid: number;
  was: Blocked;
}

export function brokenWorkerFrame(bdf: string, gid: number): BrokenWorkerFrame {
  return { fn: 'iommu_group_broken_worker', id: FN.iommu_group_broken_worker, pc: 'start', startNs: -1, bdf, gid, was: 'NO' };
}

/** iommu_group_broken_worker() (seed 003 #11): quarantine the device in the core. */
function iommu_group_broken_worker(w: KWorld, t: Task, f: BrokenWorkerFrame): Yield {
  const g = w.k.gdevs[f.bdf];
  switch (f.pc) {
    case 'start':
      if (!g) return ret(0);
      g.workQueued = false;
      f.gid = g.group;
      f.pc = 'locked';
      return lock(groupMutex(f.gid));
    case 'locked':
      if (!g!.present) {
        // iommu_deinit_device() already ran.
        unlock(w, t, groupMutex(f.gid));
        return ret(0);
      }
      if (!pendingOf(g!)) {
        // A successful reset between schedule_work() and now already recovered it.
        emit(w, 'worker.skip', { bdf: f.bdf, why: 'broken_pending cleared by a successful reset' });
        unlock(w, t, groupMutex(f.gid));
        return ret(0);
      }
      f.was = blockedOf(g!);
      f.pc = 'blocked';
      return call(blockDeviceFrame(f.bdf));
    case 'blocked': {
      const grp = w.k.groups[g!.group]!;
      if (t.rv) {
        warnOn(w, t.pid, IOMMU_C, 'iommu_group_broken_worker', 'WARN_ON(__iommu_group_block_device(gdev, BLOCKED_BROKEN))');
        unlock(w, t, groupMutex(f.gid));
        return ret(0);
      }
      if (f.was === 'NO') setRecoveryCnt(w, grp, grp.recoveryCnt + 1);
      gdevEvent(w, g!, { type: 'QUARANTINE' });
      devLog(w, 'warn', f.bdf, 'IOMMU has quarantined the device');
      unlock(w, t, groupMutex(f.gid));
      return ret(0);
    }
  }
}

/**
 * iommu_attach_group() and iommu_detach_group() (the step attaches the
 * group's default domain while it is on another one).
 *
 * iommu_attach_group(): __iommu_attach_group() refuses (-EBUSY) a group
 * attached to a domain other than its default or blocking one; then
 * __iommu_group_set_domain_internal() returns 0 when group->domain is
 * already the new domain, and -EBUSY while recovery_cnt is non-zero.
 *
 * iommu_detach_group(): __iommu_group_set_core_domain() sets the default
 * domain with IOMMU_SET_DOMAIN_MUST_SUCCEED, which passes the recovery_cnt
 * fence: group->domain is updated, blocked group_devices are skipped and
 * pci_dev_reset_iommu_done() attaches them to the new group->domain (upstream
 * "iommu: Fix WARN_ON in __iommu_group_set_domain_nofail() due to reset", the
 * base seed 003 builds on).
 */
/** iommu_attach_group()'s locals (iommu_detach_group() when the target is the default domain). */
export interface AttachGroupFrame extends FrameHead<'iommu_attach_group'> {
  /** start: take the group mutex; locked: check, list the devices; next_dev: attach the next; attached. */
  pc: 'start' | 'locked' | 'next_dev' | 'attached';
  group: number;
  dom: string;
  /** iommu_detach_group(): IOMMU_SET_DOMAIN_MUST_SUCCEED. */
  detach: boolean;
  devs: string[];
  i: number;
}

export function attachGroupFrame(group: number, dom: string): AttachGroupFrame {
  return {
    fn: 'iommu_attach_group',
    id: FN.iommu_attach_group,
    pc: 'start',
    startNs: -1,
    group,
    dom,
    detach: false,
    devs: [],
    i: 0,
  };
}

function iommu_attach_group(w: KWorld, t: Task, f: AttachGroupFrame): Yield {
  const grp = w.k.groups[f.group]!;
  const fn = (): string => (f.detach ? 'iommu_detach_group' : 'iommu_attach_group');
  const leave = (v: number): Yield => {
    unlock(w, t, groupMutex(f.group));
    recordCall(w, f.startNs, fn(), f.detach ? [String(f.group)] : [String(f.group), f.dom], v);
    return ret(v);
  };
  for (;;) {
    switch (f.pc) {
      case 'start':
        f.pc = 'locked';
        return lock(groupMutex(f.group));
      case 'locked':
        f.detach = f.dom === grp.defaultDomain && grp.domain !== grp.defaultDomain;
        // __iommu_attach_group()
        if (!f.detach && grp.domain !== grp.defaultDomain && grp.domain !== BLOCKED_DOMAIN) {
          emit(w, 'attach.busy', { group: f.group, domain: f.dom, why: 'the group is already attached to a non-default domain' });
          return leave(EBUSY);
        }
        // __iommu_group_set_domain_internal()
        if (grp.domain === f.dom) return leave(0);
        if (grp.recoveryCnt && !f.detach) {
          emit(w, 'attach.busy', {
            group: f.group,
            domain: f.dom,
            recoveryCnt: grp.recoveryCnt,
            why: 'concurrent attach during device recovery',
          });
          return leave(EBUSY);
        }
        f.devs = [];
        for (const b of grp.devices) {
          const g = w.k.gdevs[b];
          if (!g?.present) continue;
          if (blockedOf(g) !== 'NO') {
            emit(w, 'attach.skip', { group: f.group, bdf: b, domain: f.dom });
            continue;
          }
          f.devs.push(b);
        }
        f.i = 0;
        f.pc = 'next_dev';
        continue;
      case 'next_dev':
        if (f.i < f.devs.length) {
          f.pc = 'attached';
          return call(attachDevFrame(f.devs[f.i]!, f.dom));
        }
        grp.domain = f.dom;
        emit(w, 'group.domain', { group: f.group, domain: f.dom });
        return leave(0);
      case 'attached':
        f.i++;
        f.pc = 'next_dev';
        continue;
    }
  }
}

/** iommu_attach_device_pasid()'s locals. */
export interface AttachPasidFrame extends FrameHead<'iommu_attach_device_pasid'> {
  /** start: take the group mutex; locked: check, list the devices; next_dev: set the PASID on the next; set. */
  pc: 'start' | 'locked' | 'next_dev' | 'set';
  group: number;
  dom: string;
  pasid: number;
  devs: string[];
  i: number;
}

export function attachPasidFrame(group: number, dom: string, pasid: number): AttachPasidFrame {
  return {
    fn: 'iommu_attach_device_pasid',
    id: FN.iommu_attach_device_pasid,
    pc: 'start',
    startNs: -1,
    group,
    dom,
    pasid,
    devs: [],
    i: 0,
  };
}

/** iommu_attach_device_pasid(): -EBUSY while the group recovers (seed 000). */
function iommu_attach_device_pasid(w: KWorld, t: Task, f: AttachPasidFrame): Yield {
  const grp = w.k.groups[f.group]!;
  const leave = (v: number): Yield => {
    unlock(w, t, groupMutex(f.group));
    recordCall(w, f.startNs, 'iommu_attach_device_pasid', [f.dom, grp.devices[0] ?? '', String(f.pasid)], v);
    return ret(v);
  };
  for (;;) {
    switch (f.pc) {
      case 'start':
        f.pc = 'locked';
        return lock(groupMutex(f.group));
      case 'locked': {
        const first = masterOf(w, grp.devices[0] ?? '');
        if (!first || !first.pasidCap) return leave(EINVAL);
        if (grp.recoveryCnt) {
          emit(w, 'attach.busy', {
            group: f.group,
            pasid: f.pasid,
            recoveryCnt: grp.recoveryCnt,
            why: 'concurrent attach during device recovery',
          });
          return leave(EBUSY);
        }
        if (grp.pasidArray[f.pasid] !== undefined) return leave(EBUSY);
        grp.pasidArray[f.pasid] = f.dom;
        f.devs = grp.devices.filter((b) => w.k.gdevs[b]?.present && masterOf(w, b)?.pasidCap);
        f.i = 0;
        f.pc = 'next_dev';
        continue;
      }
      case 'next_dev':
        if (f.i < f.devs.length) {
          f.pc = 'set';
          return call(setDevPasidFrame(f.devs[f.i]!, f.pasid, f.dom));
        }
        return leave(0);
      case 'set':
        f.i++;
        f.pc = 'next_dev';
        continue;
    }
  }
}

/** iommu_deferred_attach()'s locals. */
export interface DeferredAttachFrame extends FrameHead<'iommu_deferred_attach'> {
  /** start: take the group mutex; locked: check and attach; attached. */
  pc: 'start' | 'locked' | 'attached';
  bdf: string;
  gid: number;
  locked: boolean;
}

export function deferredAttachFrame(bdf: string): DeferredAttachFrame {
  return { fn: 'iommu_deferred_attach', id: FN.iommu_deferred_attach, pc: 'start', startNs: -1, bdf, gid: -1, locked: false };
}

/** iommu_deferred_attach(): -EBUSY for a blocked device (upstream; seed 000 used reset_depth). */
function iommu_deferred_attach(w: KWorld, t: Task, f: DeferredAttachFrame): Yield {
  const g = w.k.gdevs[f.bdf];
  const leave = (v: number): Yield => {
    if (f.locked) unlock(w, t, groupMutex(f.gid));
    recordCall(w, f.startNs, 'iommu_deferred_attach', [f.bdf], v);
    return ret(v);
  };
  switch (f.pc) {
    case 'start':
      if (!g || !g.present) return leave(ENODEV);
      f.gid = g.group;
      f.pc = 'locked';
      return lock(groupMutex(f.gid));
    case 'locked': {
      f.locked = true;
      const grp = w.k.groups[f.gid]!;
      const busy = w.kcfg.flags.nestedResetFix
        ? blockedOf(g!) !== 'NO'
        : grp.devices.some((b) => w.k.gdevs[b] && depthOf(w.k.gdevs[b]!) > 0);
      if (busy) {
        emit(w, 'attach.busy', { bdf: f.bdf, why: 'concurrent attach during a device reset' });
        return leave(EBUSY);
      }
      const m = masterOf(w, f.bdf)!;
      f.pc = 'attached';
      if (grp.domain !== null && m.domain !== grp.domain) return call(attachDevFrame(f.bdf, grp.domain));
      return leave(0);
    }
    case 'attached':
      return leave(0);
  }
}

/**
 * Hot removal: __iommu_group_remove_device() gives a blocked device's share
 * of recovery_cnt back (seed 003 #04) and disables its broken_work; then the
 * driver's release_device.
 */
/** iommu_release_device()'s locals. */
export interface ReleaseFrame extends FrameHead<'iommu_release_device'> {
  /** start: the device leaves the bus; dev_locked: take the group mutex; group_locked: leave the group; released: the driver let go. */
  pc: 'start' | 'dev_locked' | 'group_locked' | 'released';
  bdf: string;
  gid: number;
}

export function releaseFrame(bdf: string): ReleaseFrame {
  return { fn: 'iommu_release_device', id: FN.iommu_release_device, pc: 'start', startNs: -1, bdf, gid: -1 };
}

function iommu_release_device(w: KWorld, t: Task, f: ReleaseFrame): Yield {
  const g = w.k.gdevs[f.bdf];
  switch (f.pc) {
    case 'start': {
      const ep = w.pci.endpoints[f.bdf];
      if (!ep || !ep.present || !g || !g.present) {
        recordCall(w, f.startNs, 'iommu_release_device', [f.bdf], ENODEV);
        return ret(ENODEV);
      }
      endpointRemoved(ep);
      emit(w, 'device.gone', { bdf: f.bdf });
      f.gid = g.group;
      f.pc = 'dev_locked';
      return lock(pciDevLock(f.bdf));
    }
    case 'dev_locked':
      f.pc = 'group_locked';
      return lock(groupMutex(f.gid));
    case 'group_locked': {
      const grp = w.k.groups[f.gid]!;
      if (blockedOf(g!) !== 'NO') {
        if (grp.recoveryCnt === 0) warnOn(w, t.pid, IOMMU_C, '__iommu_group_remove_device', 'WARN_ON(group->recovery_cnt == 0)');
        else setRecoveryCnt(w, grp, grp.recoveryCnt - 1);
      }
      g!.present = false;
      g!.workQueued = false; // disable_work_sync(&grp_dev->broken_work)
      w.k.invDirty = true;
      grp.devices = grp.devices.filter((b) => b !== f.bdf);
      emit(w, 'gdev.remove', { bdf: f.bdf, group: f.gid, blocked: blockedOf(g!) });
      unlock(w, t, groupMutex(f.gid));
      f.pc = 'released';
      return call(releaseDeviceFrame(f.bdf));
    }
    case 'released':
      unlock(w, t, pciDevLock(f.bdf));
      recordCall(w, f.startNs, 'iommu_release_device', [f.bdf], 0);
      return ret(0);
  }
}

/**
 * The list iommu_map() and iommu_unmap() gather page frames in, emptied
 * after each use by popping (which keeps its storage): a new list grown by
 * push() would start with room for 17.
 */
const PFN_SCRATCH: number[] = [];

/** iommu_map(): allocate pages and map them in the IO page table (no invalidation needed). */
export function iommu_map(w: KWorld, domId: string, iova: number, pages: number): number {
  const d = w.k.domains.get(domId)!;
  if (d.type !== 'paging') return EINVAL;
  const pt = pgtableOf(w.mem, d.ttb);
  const base = Math.floor(iova / 4096);
  for (let i = 0; i < pages; i++) if ((d.mapped.get(base + i) ?? PTE_INVALID) !== PTE_INVALID) return EEXIST;
  // The frames taken so far, in the list iommu_unmap() gathers its frames in
  // (emptied before returning): only the trace record keeps a copy.
  const got = PFN_SCRATCH;
  for (let i = 0; i < pages; i++) {
    const pfn = pageAlloc(w.mem, d.index);
    if (pfn < 0) {
      for (let j = 0; j < got.length; j++) {
        d.mapped.set(base + j, PTE_INVALID);
        pt.set(base + j, PTE_INVALID);
        pageFree(w.mem, got[j]!);
      }
      while (got.length > 0) got.pop();
      return ENOMEM;
    }
    got.push(pfn);
    d.mapped.set(base + i, pfn);
    pt.set(base + i, pfn);
  }
  if (w.traceOn) emit(w, 'map', { domain: domId, iova, pages, pfns: got.slice() });
  while (got.length > 0) got.pop();
  return 0;
}

/**
 * iommu_unmap(): clear the IO page table, invalidate (TLBI + ATC_INV +
 * CMD_SYNC through the driver), then free the pages — which the kernel
 * reuses at once. It returns the bytes unmapped: __iommu_unmap() stops at
 * the first page that is not mapped (the page table's unmap_pages()
 * returns 0 there), and an empty gather invalidates nothing.
 */
/** iommu_unmap()'s locals. */
export interface UnmapFrame extends FrameHead<'iommu_unmap'> {
  /** start: clear the page table and invalidate; invalidated: free the pages. */
  pc: 'start' | 'invalidated';
  dom: string;
  iova: number;
  pages: number;
  pfns: number[];
}

export function unmapFrame(dom: string, iova: number, pages: number): UnmapFrame {
  const f = (reuseFrame(FN.iommu_unmap) as UnmapFrame | undefined) ?? {
    fn: 'iommu_unmap',
    id: FN.iommu_unmap,
    pc: 'start',
    startNs: -1,
    dom,
    iova,
    pages,
    pfns: NO_PFNS,
  };
  f.pc = 'start';
  f.startNs = -1;
  f.dom = dom;
  f.iova = iova;
  f.pages = pages;
  f.pfns = NO_PFNS;
  return f;
}

const NO_PFNS: number[] = [];

function iommu_unmap(w: KWorld, _t: Task, f: UnmapFrame): Yield {
  const d = w.k.domains.get(f.dom)!;
  switch (f.pc) {
    case 'start': {
      const pt = pgtableOf(w.mem, d.ttb);
      const base = Math.floor(f.iova / 4096);
      // The frames are gathered in PFN_SCRATCH and copied out at their count.
      const got = PFN_SCRATCH;
      for (let i = 0; i < f.pages; i++) {
        const pfn = d.mapped.get(base + i) ?? PTE_INVALID;
        if (pfn === PTE_INVALID) break;
        d.mapped.set(base + i, PTE_INVALID);
        pt.set(base + i, PTE_INVALID);
        got.push(pfn);
      }
      const pfns = got.slice();
      while (got.length > 0) got.pop();
      f.pfns = pfns;
      if (w.traceOn) emit(w, 'unmap', { domain: f.dom, iova: f.iova, pages: f.pages, pfns });
      if (pfns.length === 0) {
        recordRangeCall(w, f.startNs, 'iommu_unmap', f.dom, f.iova, f.pages, 0);
        return ret(0);
      }
      f.pc = 'invalidated';
      return call(domainInvRangeFrame(f.dom, f.iova, pfns.length * 4096));
    }
    case 'invalidated':
      for (const pfn of f.pfns) pageFree(w.mem, pfn);
      if (w.traceOn) emit(w, 'pages.free', { domain: f.dom, pfns: f.pfns });
      recordRangeCall(w, f.startNs, 'iommu_unmap', f.dom, f.iova, f.pages, f.pfns.length * 4096);
      return ret(0);
  }
}

/** The IOMMU core's functions and their frames (kernel/fns.ts runs them). */
/** iommu_map() as a task: a scenario's map that waits for a CPU (kernel/steps.ts). */
export interface MapFrame extends FrameHead<'iommu_map'> {
  pc: 'start';
  domain: string;
  iova: number;
  pages: number;
}

export function mapFrame(domain: string, iova: number, pages: number): MapFrame {
  return { fn: 'iommu_map', id: FN.iommu_map, pc: 'start', startNs: -1, domain, iova, pages };
}

function iommu_map_task(w: KWorld, _t: Task, f: MapFrame): Yield {
  const rc = iommu_map(w, f.domain, f.iova, f.pages);
  recordRangeCall(w, f.startNs, 'iommu_map', f.domain, f.iova, f.pages, rc);
  return ret(rc);
}

export const IOMMU_FNS = {
  iommu_map: iommu_map_task,
  __iommu_group_block_device,
  pci_dev_reset_iommu_prepare,
  pci_dev_reset_iommu_done,
  iommu_group_broken_worker,
  iommu_attach_group,
  iommu_attach_device_pasid,
  iommu_deferred_attach,
  iommu_release_device,
  iommu_unmap,
};

export type IommuFrame =
  | BlockDeviceFrame
  | PrepareFrame
  | DoneFrame
  | BrokenWorkerFrame
  | AttachGroupFrame
  | AttachPasidFrame
  | DeferredAttachFrame
  | ReleaseFrame
  | UnmapFrame
  | MapFrame;
