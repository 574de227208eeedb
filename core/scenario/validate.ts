/**
 * Scenario validation. Every error names the JSON path of the offending
 * value (`steps[3].device: unknown device "0000:09:00.0"`). Unknown fields
 * are errors, except keys starting with "x-", so typos are caught.
 */
import { FLAG_NAMES, isPresetName, POLICY_PRESETS } from '../policy/index.ts';
import { isKnownOpcode, OPCODE_BY_NAME, cmdFieldNames } from '../hw/cmd.ts';
import {
  BLOCKED_DOMAIN_ID,
  ERRNO,
  FAULT_KINDS,
  KERNEL_DEFAULTS,
  MEMORY_DEFAULTS,
  RESET_METHODS,
  RESET_METHOD_OUTCOMES,
  RESET_OUTCOMES,
  RESET_OUTCOME_RC,
  errnoString,
  SCENARIO_FORMAT,
  SMMU_DEFAULTS,
  SMMU_FAULT_KINDS,
  STEP_OPS,
  type Chapter,
  type PolicySpec,
  type ResolvedScenario,
  type Step,
} from './types.ts';

export interface ValidationError {
  path: string;
  message: string;
}
export type ValidationResult = { ok: true; scenario: ResolvedScenario } | { ok: false; errors: ValidationError[] };

export const LIMITS = {
  maxSteps: 20_000,
  maxDevices: 256,
  maxGroups: 256,
  maxDomains: 64,
  maxPages: 4096,
  maxSidsPerDevice: 8,
  maxSid: 0xffff,
  maxTimeUs: 1e9,
  maxPasid: 15,
  maxCpus: 4096,
  maxNameLength: 200,
  maxDescriptionLength: 4000,
  maxChapters: 32,
  maxChapterTitleLength: 60,
  maxChapterTextLength: 400,
} as const;

const BDF_RE = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/;
const ID_RE = /^[A-Za-z0-9_.-]{1,32}$/;
const DRIVER_RE = /^[A-Za-z0-9_-]{1,32}$/;
const HEX64_RE = /^0x[0-9a-fA-F]{1,16}$/;

type Obj = Record<string, unknown>;

/** Most errors listed; past them the list ends with how many more there were. */
export const MAX_ERRORS = 50;

class V {
  errors: ValidationError[] = [];
  /** Errors found past MAX_ERRORS. */
  more = 0;
  err(path: string, message: string): void {
    if (this.errors.length >= MAX_ERRORS) {
      this.more++;
      return;
    }
    this.errors.push({ path: path || '(root)', message });
  }
  /** The errors, the last one saying how many were left out. */
  list(): ValidationError[] {
    return this.more > 0 ? [...this.errors, { path: '(root)', message: `${this.more} more error(s) not listed` }] : this.errors;
  }

  obj(v: unknown, path: string): Obj | null {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      this.err(path, `expected an object, got ${kind(v)}`);
      return null;
    }
    return v as Obj;
  }
  keys(o: Obj, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (k.startsWith('x-')) continue;
      if (!allowed.includes(k)) this.err(join(path, clip(k)), `unknown field "${clip(k)}"${suggest(k, allowed)}`);
    }
  }
  required(o: Obj, path: string, k: string): boolean {
    if (!(k in o) || o[k] === undefined) {
      this.err(join(path, k), 'required field is missing');
      return false;
    }
    return true;
  }
  str(v: unknown, path: string, opts: { re?: RegExp; max?: number; what?: string } = {}): string | null {
    if (typeof v !== 'string') {
      this.err(path, `expected a string, got ${kind(v)}`);
      return null;
    }
    if (opts.max !== undefined && v.length > opts.max) {
      this.err(path, `too long (${v.length} characters, at most ${opts.max})`);
      return null;
    }
    if (opts.re && !opts.re.test(v)) {
      this.err(path, `"${clip(v)}" is not a valid ${opts.what ?? 'value'}`);
      return null;
    }
    return v;
  }
  bool(v: unknown, path: string): boolean | null {
    if (typeof v !== 'boolean') {
      this.err(path, `expected true or false, got ${kind(v)}`);
      return null;
    }
    return v;
  }
  num(v: unknown, path: string, lo: number, hi: number, integer = false): number | null {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.err(path, `expected a number, got ${kind(v)}`);
      return null;
    }
    if (integer && !Number.isInteger(v)) {
      this.err(path, `expected an integer, got ${v}`);
      return null;
    }
    if (v < lo || v > hi) {
      this.err(path, `${v} is out of range (${lo}..${hi})`);
      return null;
    }
    return v;
  }
  oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T | null {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      this.err(path, `expected one of ${values.map((x) => `"${x}"`).join(', ')}, got ${kind(v)}`);
      return null;
    }
    return v as T;
  }
  arr(v: unknown, path: string, max: number): unknown[] | null {
    if (!Array.isArray(v)) {
      this.err(path, `expected an array, got ${kind(v)}`);
      return null;
    }
    if (v.length > max) {
      this.err(path, `too many entries (${v.length}, at most ${max})`);
      return null;
    }
    return v;
  }
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${clip(v)}"`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}
/**
 * Text from the input as a message shows it: at most 40 characters (with
 * the length of what was cut), control characters escaped so that none
 * reaches a terminal.
 */
function clip(s: string): string {
  return escapeControls(s.length > 40 ? `${s.slice(0, 37)}... (${s.length} characters)` : s);
}

/** Control characters as \xNN, so that no text from the input writes escape codes to a terminal. */
function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex -- these are exactly the characters to escape
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
function join(path: string, k: string | number): string {
  return typeof k === 'number' ? `${path}[${k}]` : path ? `${path}.${k}` : k;
}
/** A known field within two edits of an unknown one (only a key of about a known one's length can be). */
function suggest(k: string, allowed: readonly string[]): string {
  const lk = k.toLowerCase();
  const near = allowed.find(
    (a) => Math.abs(a.length - k.length) <= 2 && (a.toLowerCase() === lk || levenshtein(a.toLowerCase(), lk) <= 2),
  );
  return near ? ` (did you mean "${near}"?)` : '';
}
function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** Parse "0x10000" or a number into a byte address; must be 4 KiB aligned. */
export function parseIova(v: unknown): number | null {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^0x[0-9a-fA-F]{1,13}$/.test(v)) n = parseInt(v.slice(2), 16);
  else if (typeof v === 'string' && /^[0-9]{1,16}$/.test(v)) n = Number(v);
  else return null;
  if (!Number.isSafeInteger(n) || n < 0 || n >= 2 ** 48 || n % 4096 !== 0) return null;
  return n;
}

/** 0, "-ENOTTY" or a negative integer → errno value (0 or negative). */
export function parseResult(v: unknown): number | null {
  if (v === 0 || v === '0') return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v < 0 && v >= -4095) return v;
  if (typeof v === 'string') {
    const m = /^-?(E[A-Z]+)$/.exec(v);
    if (m && ERRNO[m[1]!] !== undefined) return -ERRNO[m[1]!]!;
  }
  return null;
}

const TOP_KEYS = [
  'format',
  'name',
  'description',
  'seed',
  'policy',
  'smmu',
  'kernel',
  'memory',
  'domains',
  'groups',
  'steps',
  'chapters',
];
const SMMU_KEYS = [
  'cmdqLog2Size',
  'atcInvTimeoutUs',
  'pollTimeoutUs',
  'gerrorIrqLatencyUs',
  'cmdCostNs',
  'atsChk',
  'evtqIrqLatencyUs',
  'atcInvResponseUs',
];
const STEP_KEYS: Record<string, string[]> = {
  map: ['domain', 'iova', 'pages'],
  unmap: ['domain', 'iova', 'pages'],
  dma: ['device', 'iova', 'write', 'pasid'],
  fault: ['device', 'kind', 'latencyUs'],
  reset: ['device', 'method', 'result', 'outcome', 'probe', 'durationUs'],
  attach: ['group', 'domain', 'pasid'],
  'deferred-attach': ['device'],
  'report-broken': ['device'],
  unplug: ['device'],
  'smmu-fault': ['kind'],
  cmd: ['cmd', 'sync'],
};

/** Deepest nesting of arrays and objects a scenario may have (the format itself needs 5). */
export const MAX_NESTING = 64;

/**
 * The path of the first value nested deeper than MAX_NESTING, or null.
 * Walked without recursion: a value nested ten thousand deep (in an
 * "x-" field, say) would overflow the stack of anything that recurses
 * over it, structured clone included.
 */
export function tooDeep(input: unknown): string | null {
  const stack: Array<[unknown, string, number]> = [[input, '', 0]];
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_NESTING) return path || '(root)';
    if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, join(path, i), depth + 1]));
    else for (const k of Object.keys(v)) stack.push([(v as Obj)[k], join(path, clip(k)), depth + 1]);
  }
  return null;
}

export function validateScenario(input: unknown): ValidationResult {
  const deep = tooDeep(input);
  if (deep !== null) return { ok: false, errors: [{ path: deep, message: `nested more than ${MAX_NESTING} levels deep` }] };
  const v = new V();
  const o = v.obj(input, '');
  if (!o) return { ok: false, errors: v.list() };
  v.keys(o, '', TOP_KEYS);

  if (v.required(o, '', 'format') && o.format !== SCENARIO_FORMAT) {
    v.err('format', `expected "${SCENARIO_FORMAT}", got ${kind(o.format)}`);
  }
  let name = '';
  if (v.required(o, '', 'name')) name = v.str(o.name, 'name', { max: LIMITS.maxNameLength }) ?? '';
  let description = '';
  if (o.description !== undefined) description = v.str(o.description, 'description', { max: LIMITS.maxDescriptionLength }) ?? '';
  let seed = 1;
  if (o.seed !== undefined) seed = v.num(o.seed, 'seed', 0, 0xffffffff, true) ?? 1;

  // policy
  let policy: PolicySpec = 'v4';
  if (o.policy !== undefined) {
    if (typeof o.policy === 'string') {
      if (isPresetName(o.policy)) policy = o.policy;
      else v.err('policy', `unknown policy ${kind(o.policy)} (expected one of ${POLICY_PRESETS.join(', ')})`);
    } else {
      const p = v.obj(o.policy, 'policy');
      if (p) {
        v.keys(p, 'policy', ['preset', ...FLAG_NAMES]);
        const preset = v.required(p, 'policy', 'preset') ? v.oneOf(p.preset, 'policy.preset', POLICY_PRESETS) : null;
        const spec: Record<string, unknown> = { preset: preset ?? 'v4' };
        for (const f of FLAG_NAMES)
          if (p[f] !== undefined) {
            const b = v.bool(p[f], `policy.${f}`);
            if (b !== null) spec[f] = b;
          }
        policy = spec as PolicySpec;
      }
    }
  }

  // smmu
  const smmu = { ...SMMU_DEFAULTS };
  if (o.smmu !== undefined) {
    const s = v.obj(o.smmu, 'smmu');
    if (s) {
      v.keys(s, 'smmu', SMMU_KEYS);
      if (s.cmdqLog2Size !== undefined)
        smmu.cmdqLog2Size = v.num(s.cmdqLog2Size, 'smmu.cmdqLog2Size', 2, 19, true) ?? smmu.cmdqLog2Size;
      if (s.atcInvTimeoutUs !== undefined)
        smmu.atcInvTimeoutUs = v.num(s.atcInvTimeoutUs, 'smmu.atcInvTimeoutUs', 1, 1e8) ?? smmu.atcInvTimeoutUs;
      if (s.pollTimeoutUs !== undefined)
        smmu.pollTimeoutUs = v.num(s.pollTimeoutUs, 'smmu.pollTimeoutUs', 1, 1e8) ?? smmu.pollTimeoutUs;
      if (s.gerrorIrqLatencyUs !== undefined)
        smmu.gerrorIrqLatencyUs = v.num(s.gerrorIrqLatencyUs, 'smmu.gerrorIrqLatencyUs', 0, 1e8) ?? smmu.gerrorIrqLatencyUs;
      if (s.cmdCostNs !== undefined) smmu.cmdCostNs = v.num(s.cmdCostNs, 'smmu.cmdCostNs', 1, 1e6, true) ?? smmu.cmdCostNs;
      if (s.atsChk !== undefined) smmu.atsChk = v.bool(s.atsChk, 'smmu.atsChk') ?? smmu.atsChk;
      if (s.evtqIrqLatencyUs !== undefined)
        smmu.evtqIrqLatencyUs = v.num(s.evtqIrqLatencyUs, 'smmu.evtqIrqLatencyUs', 0, 1e8) ?? smmu.evtqIrqLatencyUs;
      if (s.atcInvResponseUs !== undefined)
        smmu.atcInvResponseUs = v.num(s.atcInvResponseUs, 'smmu.atcInvResponseUs', 0.001, 1e8) ?? smmu.atcInvResponseUs;
    }
  }
  const kernel = { ...KERNEL_DEFAULTS };
  if (o.kernel !== undefined) {
    const k = v.obj(o.kernel, 'kernel');
    if (k) {
      v.keys(k, 'kernel', ['workerLatencyUs', 'cpus']);
      if (k.workerLatencyUs !== undefined)
        kernel.workerLatencyUs = v.num(k.workerLatencyUs, 'kernel.workerLatencyUs', 0, 1e8) ?? kernel.workerLatencyUs;
      if (k.cpus !== undefined) kernel.cpus = v.num(k.cpus, 'kernel.cpus', 1, LIMITS.maxCpus, true) ?? kernel.cpus;
    }
  }
  const memory = { ...MEMORY_DEFAULTS };
  if (o.memory !== undefined) {
    const m = v.obj(o.memory, 'memory');
    if (m) {
      v.keys(m, 'memory', ['pages']);
      if (m.pages !== undefined) memory.pages = v.num(m.pages, 'memory.pages', 1, LIMITS.maxPages, true) ?? memory.pages;
    }
  }

  // domains
  const domains: ResolvedScenario['domains'] = [];
  const domainType = new Map<string, string>();
  if (o.domains !== undefined) {
    const arr = v.arr(o.domains, 'domains', LIMITS.maxDomains);
    arr?.forEach((d, i) => {
      const p = `domains[${i}]`;
      const dobj = v.obj(d, p);
      if (!dobj) return;
      v.keys(dobj, p, ['id', 'type']);
      const id = v.required(dobj, p, 'id')
        ? v.str(dobj.id, `${p}.id`, { re: ID_RE, what: 'domain id (letters, digits, "_", "-", ".", at most 32)' })
        : null;
      const type = v.required(dobj, p, 'type') ? v.oneOf(dobj.type, `${p}.type`, ['paging', 'identity'] as const) : null;
      if (id === BLOCKED_DOMAIN_ID) v.err(`${p}.id`, `"${id}" is reserved (the model's name for the blocking domain)`);
      else if (id !== null && domainType.has(id)) v.err(`${p}.id`, `duplicate domain id "${id}"`);
      if (id !== null && id !== BLOCKED_DOMAIN_ID && type !== null && !domainType.has(id)) {
        domainType.set(id, type);
        domains.push({ id, type });
      }
    });
  }

  // groups and devices
  const groups: ResolvedScenario['groups'] = [];
  const groupIds = new Set<number>();
  const devices = new Map<string, { pasid: boolean; ats: boolean; group: number }>();
  const sidOwner = new Map<number, string>();
  if (v.required(o, '', 'groups')) {
    const arr = v.arr(o.groups, 'groups', LIMITS.maxGroups);
    if (arr && arr.length === 0) v.err('groups', 'at least one group is needed');
    arr?.forEach((g, gi) => {
      const p = `groups[${gi}]`;
      const gobj = v.obj(g, p);
      if (!gobj) return;
      v.keys(gobj, p, ['id', 'domain', 'devices']);
      const id = v.required(gobj, p, 'id') ? v.num(gobj.id, `${p}.id`, 0, 65535, true) : null;
      if (id !== null && groupIds.has(id)) v.err(`${p}.id`, `duplicate group id ${id}`);
      let domain: string | null = null;
      if (gobj.domain !== undefined && gobj.domain !== null) {
        const d = v.str(gobj.domain, `${p}.domain`);
        if (d !== null) {
          if (!domainType.has(d)) v.err(`${p}.domain`, `unknown domain "${clip(d)}"`);
          else domain = d;
        }
      }
      const devs: ResolvedScenario['groups'][number]['devices'] = [];
      if (v.required(gobj, p, 'devices')) {
        const darr = v.arr(gobj.devices, `${p}.devices`, LIMITS.maxDevices);
        if (darr && darr.length === 0) v.err(`${p}.devices`, 'a group needs at least one device');
        darr?.forEach((dv, di) => {
          const dp = `${p}.devices[${di}]`;
          const dobj = v.obj(dv, dp);
          if (!dobj) return;
          v.keys(dobj, dp, ['bdf', 'sids', 'ats', 'pasid', 'driver']);
          const bdf = v.required(dobj, dp, 'bdf')
            ? v.str(dobj.bdf, `${dp}.bdf`, {
                re: BDF_RE,
                what: 'PCI address (domain:bus:device.function, lower-case hex, e.g. "0000:01:00.0")',
              })
            : null;
          if (bdf !== null && devices.has(bdf)) v.err(`${dp}.bdf`, `duplicate device "${bdf}"`);
          const sids: number[] = [];
          if (v.required(dobj, dp, 'sids')) {
            const sarr = v.arr(dobj.sids, `${dp}.sids`, LIMITS.maxSidsPerDevice);
            if (sarr && sarr.length === 0) v.err(`${dp}.sids`, 'a device needs at least one StreamID');
            sarr?.forEach((s, si) => {
              const sid = v.num(s, `${dp}.sids[${si}]`, 0, LIMITS.maxSid, true);
              if (sid === null) return;
              if (sidOwner.has(sid)) v.err(`${dp}.sids[${si}]`, `StreamID ${sid} is already used by ${sidOwner.get(sid)}`);
              else {
                sidOwner.set(sid, bdf ?? dp);
                sids.push(sid);
              }
            });
          }
          const ats = dobj.ats === undefined ? true : (v.bool(dobj.ats, `${dp}.ats`) ?? true);
          const pasid = dobj.pasid === undefined ? false : (v.bool(dobj.pasid, `${dp}.pasid`) ?? false);
          const driver =
            dobj.driver === undefined
              ? 'pci'
              : (v.str(dobj.driver, `${dp}.driver`, { re: DRIVER_RE, what: 'driver name' }) ?? 'pci');
          if (bdf !== null && !devices.has(bdf)) {
            devices.set(bdf, { pasid, ats, group: id ?? -1 });
            devs.push({ bdf, sids, ats, pasid, driver });
          }
        });
      }
      if (id !== null && !groupIds.has(id)) {
        groupIds.add(id);
        groups.push({ id, domain, devices: devs });
      }
    });
    if (devices.size > LIMITS.maxDevices) v.err('groups', `too many devices (${devices.size}, at most ${LIMITS.maxDevices})`);
  }

  // steps
  const steps: Step[] = [];
  if (o.steps !== undefined) {
    const arr = v.arr(o.steps, 'steps', LIMITS.maxSteps);
    arr?.forEach((s, i) => {
      const st = validateStep(v, s, `steps[${i}]`, { domainType, devices, groupIds, pages: memory.pages });
      if (st) steps.push(st);
    });
  }

  const chapters = o.chapters === undefined ? [] : validateChapters(v, o.chapters);

  if (v.errors.length > 0) return { ok: false, errors: v.list() };
  return {
    ok: true,
    scenario: {
      format: SCENARIO_FORMAT,
      name,
      description,
      seed,
      policy,
      smmu,
      kernel,
      memory,
      domains,
      groups,
      steps,
      chapters,
    },
  };
}

/**
 * `chapters`: at most 32 entries of exactly `at`, `title` and `text` (plus
 * "x-" keys), `at` a time like a step's and never earlier than the chapter
 * before it, `title` and `text` non-empty and within their limits.
 */
function validateChapters(v: V, input: unknown): Chapter[] {
  const arr = v.arr(input, 'chapters', LIMITS.maxChapters);
  if (!arr) return [];
  const out: Chapter[] = [];
  let prevAt: number | null = null;
  arr.forEach((c, i) => {
    const p = `chapters[${i}]`;
    const o = v.obj(c, p);
    if (!o) return;
    const n0 = v.errors.length + v.more;
    v.keys(o, p, ['at', 'title', 'text']);
    const at = v.required(o, p, 'at') ? v.num(o.at, `${p}.at`, 0, LIMITS.maxTimeUs) : null;
    if (at !== null && prevAt !== null && at < prevAt) {
      v.err(`${p}.at`, `${at} is earlier than the chapter before it (${prevAt}): chapters go in order of time`);
    }
    if (at !== null) prevAt = at;
    const words = (k: 'title' | 'text', max: number): string | null => {
      if (!v.required(o, p, k)) return null;
      const s = v.str(o[k], `${p}.${k}`, { max });
      if (s !== null && s.trim() === '') {
        v.err(`${p}.${k}`, 'is empty');
        return null;
      }
      return s;
    };
    const title = words('title', LIMITS.maxChapterTitleLength);
    const text = words('text', LIMITS.maxChapterTextLength);
    if (v.errors.length + v.more === n0 && at !== null && title !== null && text !== null) out.push(o as unknown as Chapter);
  });
  return out;
}

interface StepCtx {
  domainType: Map<string, string>;
  devices: Map<string, { pasid: boolean; ats: boolean; group: number }>;
  groupIds: Set<number>;
  pages: number;
}

function validateStep(v: V, s: unknown, p: string, c: StepCtx): Step | null {
  const o = v.obj(s, p);
  if (!o) return null;
  const n0 = v.errors.length;
  const at = v.required(o, p, 'at') ? v.num(o.at, `${p}.at`, 0, LIMITS.maxTimeUs) : null;
  const op = v.required(o, p, 'op') ? v.oneOf(o.op, `${p}.op`, STEP_OPS) : null;
  if (op === null) return null;
  v.keys(o, p, ['at', 'op', ...STEP_KEYS[op]!]);

  const device = (): string | null => {
    if (!v.required(o, p, 'device')) return null;
    const d = v.str(o.device, `${p}.device`);
    if (d !== null && !c.devices.has(d)) {
      v.err(`${p}.device`, `unknown device "${clip(d)}"`);
      return null;
    }
    return d;
  };
  const domain = (needPaging: boolean): string | null => {
    if (!v.required(o, p, 'domain')) return null;
    const d = v.str(o.domain, `${p}.domain`);
    if (d === null) return null;
    if (!c.domainType.has(d)) {
      v.err(`${p}.domain`, `unknown domain "${clip(d)}"`);
      return null;
    }
    if (needPaging && c.domainType.get(d) !== 'paging') {
      v.err(`${p}.domain`, `domain "${d}" is an identity domain; map and unmap need a paging domain`);
      return null;
    }
    return d;
  };
  const iova = (): void => {
    if (!v.required(o, p, 'iova')) return;
    if (parseIova(o.iova) === null) v.err(`${p}.iova`, `${kind(o.iova)} is not a 4 KiB-aligned IOVA below 2^48 (e.g. "0x10000")`);
  };
  const pages = (): void => {
    if (v.required(o, p, 'pages')) v.num(o.pages, `${p}.pages`, 1, c.pages, true);
  };

  switch (op) {
    case 'map':
    case 'unmap':
      domain(true);
      iova();
      pages();
      break;
    case 'dma': {
      const d = device();
      iova();
      if (o.write !== undefined) v.bool(o.write, `${p}.write`);
      if (o.pasid !== undefined) {
        const pa = v.num(o.pasid, `${p}.pasid`, 1, LIMITS.maxPasid, true);
        if (pa !== null && d !== null && !c.devices.get(d)!.pasid)
          v.err(`${p}.pasid`, `device "${d}" has no PASID capability ("pasid": false)`);
      }
      break;
    }
    case 'fault': {
      device();
      const k = v.required(o, p, 'kind') ? v.oneOf(o.kind, `${p}.kind`, FAULT_KINDS) : null;
      if (k === 'atc-slow') {
        if (v.required(o, p, 'latencyUs')) v.num(o.latencyUs, `${p}.latencyUs`, 0.001, 1e8);
      } else if (o.latencyUs !== undefined) {
        v.err(`${p}.latencyUs`, `latencyUs only applies to kind "atc-slow"`);
      }
      break;
    }
    case 'reset': {
      device();
      const method = v.required(o, p, 'method') ? v.oneOf(o.method, `${p}.method`, RESET_METHODS) : null;
      const result = o.result === undefined ? null : parseResult(o.result);
      if (o.result !== undefined && result === null) {
        v.err(`${p}.result`, `${kind(o.result)} is not 0 or an errno name such as "-ENOTTY", "-ETIMEDOUT", "-EIO"`);
      }
      if (o.outcome !== undefined) {
        const outcome = v.oneOf(o.outcome, `${p}.outcome`, RESET_OUTCOMES);
        if (outcome !== null && method !== null && !RESET_METHOD_OUTCOMES[method].includes(outcome)) {
          v.err(
            `${p}.outcome`,
            `a "${method}" reset cannot end "${outcome}": its outcomes are ${RESET_METHOD_OUTCOMES[method].join(', ')}`,
          );
        } else if (outcome !== null && result !== null && result !== RESET_OUTCOME_RC[outcome]) {
          v.err(
            `${p}.result`,
            `outcome "${outcome}" returns ${errnoString(RESET_OUTCOME_RC[outcome])}, not ${errnoString(result)}: give one of the two`,
          );
        }
      }
      if (o.probe !== undefined) v.bool(o.probe, `${p}.probe`);
      if (o.durationUs !== undefined) v.num(o.durationUs, `${p}.durationUs`, 0, 1e8);
      break;
    }
    case 'attach': {
      if (v.required(o, p, 'group')) {
        const g = v.num(o.group, `${p}.group`, 0, 65535, true);
        if (g !== null && !c.groupIds.has(g)) v.err(`${p}.group`, `unknown group ${g}`);
      }
      const dom = domain(false);
      if (o.pasid !== undefined) {
        v.num(o.pasid, `${p}.pasid`, 1, LIMITS.maxPasid, true);
        if (dom !== null && c.domainType.get(dom) !== 'paging') v.err(`${p}.domain`, 'a PASID attach needs a paging domain');
      }
      break;
    }
    case 'deferred-attach':
    case 'report-broken':
    case 'unplug':
      device();
      break;
    case 'smmu-fault':
      if (v.required(o, p, 'kind')) v.oneOf(o.kind, `${p}.kind`, SMMU_FAULT_KINDS);
      break;
    case 'cmd': {
      if (o.sync !== undefined) v.bool(o.sync, `${p}.sync`);
      if (!v.required(o, p, 'cmd')) break;
      const cmd = v.obj(o.cmd, `${p}.cmd`);
      if (!cmd) break;
      if (cmd.raw !== undefined) {
        v.keys(cmd, `${p}.cmd`, ['raw']);
        const raw = v.arr(cmd.raw, `${p}.cmd.raw`, 2);
        if (raw && raw.length !== 2)
          v.err(`${p}.cmd.raw`, 'expected two dwords, e.g. ["0x0000010000000040", "0x0000000000010002"]');
        raw?.forEach((d, i) =>
          v.str(d, `${p}.cmd.raw[${i}]`, { re: HEX64_RE, what: '64-bit hex dword ("0x" and up to 16 hex digits)' }),
        );
      } else {
        const opName = v.required(cmd, `${p}.cmd`, 'op') ? v.str(cmd.op, `${p}.cmd.op`) : null;
        if (opName === null) break;
        const opcode = OPCODE_BY_NAME[opName];
        if (opcode === undefined || !isKnownOpcode(opcode)) {
          v.err(`${p}.cmd.op`, `unknown command "${clip(opName)}" (use "raw" for arbitrary bits)`);
          break;
        }
        const fields = cmdFieldNames(opcode) as string[];
        v.keys(cmd, `${p}.cmd`, ['op', ...fields]);
        for (const f of fields) {
          if (cmd[f] === undefined) continue;
          if (f === 'leaf' || f === 'ssv' || f === 'global') v.bool(cmd[f], `${p}.cmd.${f}`);
          else if (f === 'addr' || f === 'msiaddr') {
            const a = cmd[f];
            const okAddr =
              (typeof a === 'number' && Number.isSafeInteger(a) && a >= 0) ||
              (typeof a === 'string' && /^0x[0-9a-fA-F]{1,13}$/.test(a));
            if (!okAddr) v.err(`${p}.cmd.${f}`, `${kind(a)} is not an address (a number or "0x..." below 2^52)`);
          } else v.num(cmd[f], `${p}.cmd.${f}`, 0, 0xffffffff, true);
        }
      }
      break;
    }
  }
  if (v.errors.length > n0 || at === null) return null;
  return o as unknown as Step;
}

/**
 * Parse a scenario file's text and validate it; JSON syntax errors are
 * reported at the root. A leading UTF-8 byte order mark is dropped, as
 * editors write one.
 */
export function parseScenarioText(text: string): ValidationResult {
  const r = parseJsonText(text);
  return r.ok ? validateScenario(r.value) : { ok: false, errors: [{ path: '(root)', message: r.message }] };
}

/**
 * JSON text parsed, or what is wrong with it: "malformed JSON at line L,
 * column C: <the parser's words>", on one line. A leading byte order mark
 * is dropped.
 */
export function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (e) {
    const words = escapeControls(
      String((e as Error).message)
        .replace(/\s+/g, ' ')
        .slice(0, 200),
    );
    const at = /at position (\d+)/.exec(words);
    if (!at) return { ok: false, message: `malformed JSON: ${words}` };
    const pos = Number(at[1]);
    const before = body.slice(0, pos);
    const line = before.split('\n').length;
    const column = pos - before.lastIndexOf('\n');
    return {
      ok: false,
      message: `malformed JSON at line ${line}, column ${column}: ${words.replace(/ at position \d+.*$/, '')}`,
    };
  }
}

export function formatErrors(errors: ValidationError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}
