/**
 * The menus a click opens: a device's fault menu, a group's attach and
 * map/unmap menu, and the SMMU menu. Every action becomes a scenario step at
 * the current time (Session.inject), so it is replayed, shared and stepped
 * back over like any other step.
 */
import { RESET_FN_NAMES, RESET_METHODS, type ResetMethod, type View } from '../../core/index.ts';
import type { MenuItem } from './menu-types.ts';
import type { Session } from './session.svelte.ts';
import { iovaOf } from './format.ts';

const METHOD_LABEL: Record<ResetMethod, string> = {
  flr: 'Function Level Reset (FLR)',
  af_flr: 'Advanced Features FLR',
  pm: 'PM reset (D3hot → D0)',
  bus: 'Secondary bus reset',
  cxl_bus: 'CXL bus reset (nests a bus reset)',
  acpi: 'ACPI _RST',
  quirk: 'Device-specific (quirk) reset',
};

const RESULTS: Array<{ result: number | string; label: string }> = [
  { result: 0, label: 'succeeds (0)' },
  { result: '-EIO', label: 'fails (-EIO)' },
  { result: '-ETIMEDOUT', label: 'times out (-ETIMEDOUT)' },
  { result: '-ENOTTY', label: 'not supported (-ENOTTY)' },
];

/** Contiguous runs of mapped IOVA pages: [first ipfn, pages]. */
export function mappedRanges(mapped: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [ipfn] of mapped) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === ipfn) last[1]++;
    else out.push([ipfn, 1]);
  }
  return out;
}

/** The lowest IOVA page at or above 0x10 (64 KiB) with `pages` free pages after it. */
export function freeIova(mapped: ReadonlyArray<readonly [number, number]>, pages: number): number {
  const used = new Set(mapped.map(([i]) => i));
  for (let start = 0x10; ; start += pages) {
    let ok = true;
    for (let i = 0; i < pages; i++)
      if (used.has(start + i)) {
        ok = false;
        break;
      }
    if (ok) return start;
  }
}

export function deviceMenu(session: Session, view: View, bdf: string, why: () => void): MenuItem[] {
  const gd = view.gdevs.find((d) => d.bdf === bdf);
  const ep = view.endpoints.find((e) => e.bdf === bdf);
  if (!gd || !ep) return [{ label: `${bdf} is not in this scenario`, disabled: true }];
  const gone = !gd.present;
  const items: MenuItem[] = [];
  items.push({
    label: `Why is it ${gd.blocked === 'NO' && !gd.atsBroken ? 'in this state' : gd.atsBroken && gd.blocked === 'NO' ? 'ats_broken' : gd.blocked}?`,
    run: why,
    hint: 'causal chain',
  });
  items.push({ heading: true, label: 'ATC invalidation (fault)' });
  items.push({
    label: 'Stop answering ATC invalidations',
    run: () => session.inject({ op: 'fault', device: bdf, kind: 'atc-unresponsive' }),
    disabled: gone || !ep.atsCap,
    hint: ep.mode === 'unresponsive' ? 'already' : '',
  });
  items.push({
    label: 'Answer slowly…',
    disabled: gone || !ep.atsCap,
    submenu: [200, 900, 5000].map((us) => ({
      label: `after ${us} µs`,
      hint: us < session.atcTimeoutUs ? 'inside the timeout' : 'past the timeout',
      run: () => session.inject({ op: 'fault', device: bdf, kind: 'atc-slow', latencyUs: us }),
    })),
  });
  items.push({
    label: 'Answer normally again (recover)',
    run: () => session.inject({ op: 'fault', device: bdf, kind: 'atc-recover' }),
    disabled: gone || ep.mode === 'ok',
  });
  items.push({ heading: true, label: 'Reset (pci_reset_function)' });
  items.push({
    label: 'Reset with…',
    disabled: gone,
    submenu: RESET_METHODS.map((method) => ({
      label: METHOD_LABEL[method],
      hint: RESET_FN_NAMES[method],
      submenu: [
        ...RESULTS.map(({ result, label }) => ({
          label: `reset ${label}`,
          run: () => session.inject({ op: 'reset', device: bdf, method, result }),
        })),
        {
          label: 'probe only (PCI_RESET_PROBE)',
          hint: 'no prepare/done',
          run: () => session.inject({ op: 'reset', device: bdf, method, result: 0, probe: true }),
        },
      ],
    })),
  });
  items.push({
    label: 'FLR that succeeds',
    hint: 'quick',
    run: () => session.inject({ op: 'reset', device: bdf, method: 'flr', result: 0 }),
    disabled: gone,
  });
  items.push({ heading: true, label: 'DMA by the device' });
  const dom = gd.domain ? view.domains.find((d) => d.id === gd.domain) : undefined;
  const dmaItems: MenuItem[] = [];
  for (const [ipfn, pages] of mappedRanges(dom?.mapped ?? []).slice(0, 4)) {
    dmaItems.push({
      label: `Write to ${iovaOf(ipfn)}`,
      hint: `mapped in ${dom!.id}${pages > 1 ? `, ${pages} pages` : ''}`,
      run: () => session.inject({ op: 'dma', device: bdf, iova: iovaOf(ipfn), write: true }),
    });
  }
  const stale = ep.atc.filter((e) => e.stale && e.ssid === 0).slice(0, 4);
  for (const e of stale) {
    dmaItems.push({
      label: `Write to ${iovaOf(e.ipfn)} through its stale ATC entry`,
      hint: `page ${e.pfn}${e.reused ? ', reused' : ''}`,
      run: () => session.inject({ op: 'dma', device: bdf, iova: iovaOf(e.ipfn), write: true }),
    });
  }
  if (dmaItems.length === 0) dmaItems.push({ label: 'No mapped IOVA to use (map pages from the group menu)', disabled: true });
  for (const it of dmaItems) it.disabled = it.disabled || gone;
  items.push(...dmaItems);
  items.push({ heading: true, label: 'Device' });
  items.push({
    label: 'Report broken (iommu_report_device_broken)',
    run: () => session.inject({ op: 'report-broken', device: bdf }),
    disabled: gone,
  });
  items.push({ label: 'Unplug (hot removal)', run: () => session.inject({ op: 'unplug', device: bdf }), disabled: gone });
  return items;
}

export function groupMenu(session: Session, view: View, gid: number, why: (() => void) | null): MenuItem[] {
  const g = view.groups.find((x) => x.id === gid);
  if (!g) return [{ label: `group ${gid} is not in this scenario`, disabled: true }];
  const items: MenuItem[] = [];
  if (why) items.push({ label: `Why is recovery_cnt ${g.recoveryCnt}?`, run: why, hint: 'causal chain' });
  items.push({ heading: true, label: `Attach a domain (iommu_attach_group)` });
  const domains = view.domains.filter((d) => d.type === 'paging' || d.type === 'identity');
  for (const d of domains) {
    items.push({
      label: `Attach ${d.id}`,
      hint: d.id === g.domain ? 'attached now' : d.type,
      run: () => session.inject({ op: 'attach', group: gid, domain: d.id }),
    });
  }
  const pasidDevs = view.gdevs.filter((d) => d.group === gid && session.pasidCapable(d.bdf));
  if (pasidDevs.length) {
    const paging = domains.filter((d) => d.type === 'paging');
    items.push({
      label: 'Attach a PASID domain…',
      submenu: paging.map((d) => ({
        label: `PASID 1 → ${d.id}`,
        run: () => session.inject({ op: 'attach', group: gid, domain: d.id, pasid: 1 }),
      })),
    });
  }
  const dom = g.domain ? view.domains.find((d) => d.id === g.domain && d.type === 'paging') : undefined;
  if (dom) {
    items.push({ heading: true, label: `Memory of ${dom.id}` });
    const n = Math.min(4, view.memory.pages);
    const at = freeIova(dom.mapped, n);
    items.push({
      label: `Map ${n} page${n > 1 ? 's' : ''} at ${iovaOf(at)}`,
      hint: 'iommu_map',
      run: () => session.inject({ op: 'map', domain: dom.id, iova: iovaOf(at), pages: n }),
    });
    for (const [ipfn, pages] of mappedRanges(dom.mapped).slice(0, 6)) {
      items.push({
        label: `Unmap ${iovaOf(ipfn)} (${pages} page${pages > 1 ? 's' : ''})`,
        hint: 'invalidates the ATCs',
        run: () => session.inject({ op: 'unmap', domain: dom.id, iova: iovaOf(ipfn), pages }),
      });
    }
  }
  return items;
}

export function smmuMenu(session: Session, view: View): MenuItem[] {
  return [
    { heading: true, label: 'SMMU errors' },
    {
      label: 'Enter Service Failure Mode (SFM_ERR)',
      run: () => session.inject({ op: 'smmu-fault', kind: 'sfm' }),
      disabled: view.sfm,
    },
    { label: 'Abort a command fetch (CERROR_ABT)', run: () => session.inject({ op: 'smmu-fault', kind: 'cmdq-abort' }) },
    {
      label: 'Issue an illegal command (CERROR_ILL)',
      hint: 'opcode 0x7f',
      run: () => session.inject({ op: 'cmd', cmd: { raw: ['0x000000000000007f', '0x0000000000000000'] } }),
    },
    { heading: true, label: 'Commands' },
    { label: 'Issue CFGI_ALL + CMD_SYNC', run: () => session.inject({ op: 'cmd', cmd: { op: 'CFGI_ALL' }, sync: true }) },
  ];
}
