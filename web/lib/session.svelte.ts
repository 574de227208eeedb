/**
 * The page's state: the scenario being shown (exactly as a user would write
 * it), its recorded run (from the worker), the current position in it, and
 * playback. Everything the user does goes through here: pick a built-in,
 * change the policy, inject a fault (a new step at the current time), edit
 * the JSON, share. The address bar always holds the scenario, the policy and
 * the time; the scenario is also kept locally.
 */
import {
  BUILTIN_SCENARIOS,
  builtinScenario,
  tooDeep,
  MAX_NESTING,
  parseJsonText,
  DEFAULT_SCENARIO_ID,
  FLAG_NAMES,
  POLICY_PRESETS,
  chapterPositions,
  linkFor,
  shortLinkScenario,
  formatErrors,
  isPresetName,
  parseAppUrl,
  nextStop,
  positionAt,
  positionOfTrace,
  resolvePolicy,
  stopCrossed,
  type CallRecord,
  type Chapter,
  type FlagName,
  type Marker,
  type PolicySpec,
  type PresetName,
  type RecordingState,
  type ResolvedScenario,
  type Scenario,
  type Step,
  type TimelineData,
  type TraceRecord,
  type View,
} from '../../core/index.ts';
import type {
  CompareRow,
  FromWorker,
  LinkDecoded,
  PageWindow,
  RecordFind,
  Recorded,
  ResultSummary,
  ToWorker,
  WindowAsk,
  WindowUpdate,
} from './protocol.ts';
import { loadCurrent, remember, saveCurrent } from './storage.ts';
import { builtinIdOf } from './scenario-text.ts';
import { makeSimWorker } from './make-worker.ts';

export { builtinIdOf, citation, summarize } from './scenario-text.ts';

/** A seek not answered in this time (ms) means the worker has hung or died. */
export const SEEK_ANSWER_MS = 5000;
/** The same for a load or a comparison (the whole run is recorded first). */
export const LOAD_ANSWER_MS = 180_000;

/** The largest scenario file the page opens (a link holds at most 2 MiB of JSON; a file is read on the page's thread). */
export const MAX_FILE_BYTES = 32 * 1024 * 1024;

/** While playing, the page asks for a new view at most this often (ms). */
const PLAY_VIEW_MS = 33;

/**
 * The speed a first-time viewer can follow: two events a second, so the
 * default scenario (39 events) plays in about 20 s and each CMDQ error,
 * GERROR toggle and state change stays on screen for half a second.
 */
export const DEFAULT_SPEED = 2;

export const SPEEDS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384] as const;

/** How a load ended: shown, refused (with what is wrong), or replaced by a later load first. */
export type LoadOutcome = { ok: true } | { ok: false; message: string } | { ok: false; superseded: true };

export type { Marker };

type StepInput = Step extends infer S ? (S extends Step ? Omit<S, 'at'> : never) : never;

/** The preset and flags of a scenario's `policy` field. */
export function policyParts(p: PolicySpec | undefined): { preset: PresetName; flags: Record<string, boolean> } {
  if (p === undefined) return { preset: 'v4', flags: {} };
  if (typeof p === 'string') return { preset: p, flags: {} };
  const { preset, ...flags } = p;
  return { preset, flags: flags as Record<string, boolean> };
}

/**
 * `live` (a view of a buffer that may have room to grow) with `add` written
 * from index `from` on: the same buffer when it has room, else one twice as
 * large, so a run recorded in many slices is copied a logarithmic number of
 * times.
 */
export function grown<A extends Float64Array | Uint32Array>(live: A, add: A, from: number, make: (length: number) => A): A {
  const n = from + add.length;
  const room = (live.buffer.byteLength - live.byteOffset) / live.BYTES_PER_ELEMENT;
  let whole: A;
  if (room >= n) {
    const View = live.constructor as new (b: ArrayBufferLike, offset: number, length: number) => A;
    whole = new View(live.buffer, live.byteOffset, room);
  } else {
    whole = make(Math.max(1024, 2 ** Math.ceil(Math.log2(n))));
    whole.set(live.subarray(0, from));
  }
  whole.set(add, from);
  return whole.subarray(0, n) as A;
}

/** A share link with page-level parameters ("present=1") added to its query. */
export function withExtras(url: string, extras: string): string {
  if (!extras) return url;
  const hash = url.indexOf('#');
  const head = hash < 0 ? url : url.slice(0, hash);
  const tail = hash < 0 ? '' : url.slice(hash);
  return `${head}${head.includes('?') ? '&' : '?'}${extras}${tail}`;
}

export class Session {
  /** The scenario as written (what is shared and kept). */
  scenario = $state.raw<Scenario>(BUILTIN_SCENARIOS[DEFAULT_SCENARIO_ID]!);
  resolved = $state.raw<ResolvedScenario | null>(null);
  data = $state.raw<TimelineData | null>(null);
  /** Invariant violations recorded so far. */
  violationCount = $state(0);
  /** The result document (without its lists) once recording has ended. */
  result = $state.raw<ResultSummary | null>(null);
  /** The marks on the track, from the worker as they are recorded (a run has few). */
  markers = $state.raw<Marker[]>([]);
  /**
   * What the page draws from the whole record at the position shown
   * (caption, kernel log, API calls, the causal chain): the worker holds
   * the trace, log and calls and answers this with each view.
   */
  window = $state.raw<PageWindow | null>(null);
  /** The kernel log's filter: text the lines shown contain, and only errors and warnings. */
  logFilter = $state('');
  logErrorsOnly = $state(false);
  /** The records the views keep showing after they pass (STICKY_KINDS), in trace order. */
  sticky = $state.raw<TraceRecord[]>([]);
  view = $state.raw<View | null>(null);
  /** Position shown (events run), 0..count. */
  position = $state(0);
  playing = $state(false);
  /** Events per second while playing: DEFAULT_SPEED until the user picks another. */
  speed = $state<number>(DEFAULT_SPEED);
  loading = $state(true);
  /** A message for the user (role="alert"); null when there is none. */
  alert = $state<string | null>(null);
  /** Where the current scenario came from, for the header. */
  origin = $state('');
  /** The built-in the scenario is (unchanged), or null. */
  builtinId = $state<string | null>(DEFAULT_SCENARIO_ID);
  #focus = $state<number | null>(null);
  /** Selected trace record for the causal chain: setting it asks the worker for its chain. */
  get focusTrace(): number | null {
    return this.#focus;
  }
  set focusTrace(id: number | null) {
    if (id === this.#focus) return;
    this.#focus = id;
    this.askWindow();
  }
  lastLoadMs = $state(0);
  /**
   * Where recording the run stands: 'running' while the worker records it
   * (the data grows), 'done' once the whole run is recorded, 'stopped' when
   * a limit ended it (`recordingStopped` says which, also in the alert).
   */
  recording = $state<RecordingState>('done');
  recordingStopped = $state<string | null>(null);
  /** Milliseconds from the load to the whole run recorded (or stopped). */
  recordMs = $state(0);
  /** The scenario run to its end under each policy (asked for by the Compare tab); null until asked. */
  comparison = $state.raw<CompareRow[] | null>(null);
  comparing = $state(false);
  private compareId = 0;
  storageOk = $state(true);
  /** Play halts at each chapter of the scenario (on by default in presentation mode). */
  pauseAtChapters = $state(false);
  /**
   * Page-level parameters kept in the address bar beside the scenario's
   * (`present=1`, `embed=1`): the address keeps the page in its mode when
   * it is reloaded; the share link leaves them out.
   */
  addressExtras = $state('');
  /** Keep the scenario shown in this browser's storage (not in an embedded page). */
  persist = true;

  private worker: Worker;
  private nextId = 1;
  private loadId = 0;
  private seekId = 0;
  /** The latest request that carried an ask (a seek or a window): older windows are not shown. */
  private askId = 0;
  /** Records looked for in the worker, by request id. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, not shown: nothing reacts to it
  private finds = new Map<number, (traceId: number | null) => void>();
  private wantPosition = 0;
  private afterLoad: ((s: Session) => void) | null = null;
  private raf = 0;
  private playFrom = { t: 0, pos: 0 };
  private urlTimer: ReturnType<typeof setTimeout> | null = null;

  /** Requests the worker has not answered yet, with when they were sent. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, not shown: nothing reacts to it
  private awaiting = new Map<number, { kind: ToWorker['type']; sentAt: number }>();
  /** Restarts of the worker since a request was last answered (a worker that cannot start is not restarted for ever). */
  private restarts = 0;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private readonly makeWorker: () => Worker;

  constructor(makeWorker?: () => Worker) {
    this.makeWorker = makeWorker ?? makeSimWorker;
    this.worker = this.startWorker();
  }

  private startWorker(): Worker {
    const w = this.makeWorker();
    w.onmessage = (ev: MessageEvent<FromWorker>) => {
      if (w !== this.worker) return;
      this.awaiting.delete(ev.data.id);
      if (ev.data.type === 'view')
        for (const [id, a] of this.awaiting) if (a.kind === 'seek' && id < ev.data.id) this.awaiting.delete(id);
      this.restarts = 0;
      this.onMessage(ev.data);
    };
    w.onerror = (ev) => {
      if (w !== this.worker) return;
      ev.preventDefault();
      // A script that does not load gives an error event with no message.
      this.workerFailed(ev.message ? `it stopped: ${ev.message}` : 'its script could not be loaded');
    };
    w.onmessageerror = () => {
      if (w === this.worker) this.workerFailed('a message from it could not be read');
    };
    return w;
  }

  /**
   * The worker died, hung or could not start: say so, start a new one and
   * load again. A load that was running is tried once more; if the worker
   * fails again, the scenario shown (or the default) is loaded instead, at
   * the position shown. After three failures in a row the message stays
   * and nothing more is tried.
   */
  private workerFailed(why: string): void {
    this.worker.terminate();
    this.awaiting.clear();
    for (const f of this.finds.values()) f(null);
    this.finds.clear();
    this.pause();
    this.loading = false;
    this.restarts++;
    if (this.restarts > 3) {
      this.alert = `The simulation worker failed again (${why}). Reload the page to try once more.`;
      return;
    }
    this.alert = `The simulation worker failed (${why}); it was restarted.`;
    this.worker = this.startWorker();
    // A link being read is read once more by the new worker; start() then loads what it holds.
    const d = this.decoding;
    this.decoding = null;
    if (d) {
      this.decodeAlert = this.alert;
      if (this.restarts === 1) void this.decodeLink(d.encoded).then(d.done);
      else d.done({ ok: false, error: `the simulation worker failed (${why})` });
      if (!this.pendingLoad) return;
    }
    const pl = this.pendingLoad;
    this.pendingLoad = null;
    if (pl && this.restarts === 1) {
      void this.load(pl.scenario, { ...pl.opts, keepAlert: true }).then(pl.done);
      return;
    }
    pl?.done({ ok: false, message: `the simulation worker failed (${why})` });
    if (this.data) {
      void this.load(this.scenario, { position: this.position, builtin: this.builtinId, origin: this.origin, keepAlert: true });
    } else {
      void this.load(BUILTIN_SCENARIOS[DEFAULT_SCENARIO_ID]!, {
        builtin: DEFAULT_SCENARIO_ID,
        origin: 'built-in',
        keepAlert: true,
      });
    }
  }

  /** Seeks answer within a few seconds and loads within a few minutes; past that the worker is taken for hung. */
  private checkWorker(): void {
    const now = performance.now();
    for (const a of this.awaiting.values()) {
      const limit = a.kind === 'seek' || a.kind === 'decode' ? SEEK_ANSWER_MS : LOAD_ANSWER_MS;
      if (now - a.sentAt > limit) {
        this.workerFailed(
          `it did not answer ${{ seek: 'a seek', load: 'a load', compare: 'a comparison', decode: 'the reading of a link', window: 'a look into the run', find: 'a look into the run' }[a.kind]} in ${Math.round(limit / 1000)} s`,
        );
        return;
      }
    }
  }

  /* ------------------------------------------------------------ derived */

  get count(): number {
    return this.data?.count ?? 0;
  }
  get tNs(): number {
    return this.data ? this.data.times[Math.min(this.position, this.data.count)]! : 0;
  }
  get preset(): PresetName {
    return policyParts(this.scenario.policy).preset;
  }
  get flags(): Record<FlagName, boolean> {
    return resolvePolicy(this.preset, policyParts(this.scenario.policy).flags).flags as Record<FlagName, boolean>;
  }
  get policyLabel(): string {
    return resolvePolicy(this.preset, policyParts(this.scenario.policy).flags).label;
  }
  /** Log lines printed up to the current position. */
  get visibleLogCount(): number {
    return this.data ? this.data.logLen[this.position]! : 0;
  }
  get visibleTraceLen(): number {
    return this.data ? this.data.traceLen[this.position]! : 0;
  }
  /** The last API calls returned up to the position shown (the window's; `callsTotal` counts them all). */
  get visibleCalls(): CallRecord[] {
    return this.window?.calls.items ?? [];
  }
  get callsTotal(): number {
    return this.window?.calls.total ?? 0;
  }
  /** What the page asks the worker to show beside a view. */
  get ask(): WindowAsk {
    const w = this.window;
    return {
      logFilter: this.logFilter,
      logErrorsOnly: this.logErrorsOnly,
      focus: this.#focus,
      held: w ? { log: w.log.key, calls: w.calls.total } : null,
    };
  }
  /** The window drawn is of the position shown. */
  get windowReady(): boolean {
    return this.window !== null && this.window.position === this.position;
  }
  /** The scenario's chapters (empty when it has none). */
  get chapters(): Chapter[] {
    return this.resolved?.chapters ?? [];
  }
  /** Where each chapter begins in the run (null: not recorded that far yet). */
  get chapterStops(): Array<number | null> {
    return this.data ? chapterPositions(this.chapters, this.data) : [];
  }
  /** The positions of the events of note (the timeline's markers), in order. */
  get markerPositions(): number[] {
    return this.markers.map((m) => m.position);
  }
  /**
   * The presenter keys: the next (dir 1) or previous (dir -1) chapter, or,
   * in a scenario without chapters, the next or previous event of note.
   */
  nextChapter(dir: 1 | -1): void {
    this.pause();
    const stops = this.chapters.length > 0 ? this.chapterStops : this.markerPositions;
    const p = nextStop(stops, this.position, dir);
    if (p !== null) this.seek(p);
  }
  get atcTimeoutUs(): number {
    return this.resolved?.smmu.atcInvTimeoutUs ?? 1000;
  }
  pasidCapable(bdf: string): boolean {
    for (const g of this.resolved?.groups ?? []) for (const d of g.devices) if (d.bdf === bdf) return d.pasid;
    return false;
  }

  /* ------------------------------------------------------------ loading */

  /** Start from the address bar, else the locally kept scenario, else the default. */
  async start(): Promise<void> {
    const gen = ++this.startGen;
    const st = parseAppUrl(location.search, location.hash);
    const href = location.href;
    let refused = false;
    const problems: string[] = [...st.errors];
    let scenario: Scenario | null = null;
    let builtin: string | null = null;
    if (st.encoded !== null) {
      // The worker inflates and validates the link: a large one never stalls the page.
      this.loading = true;
      const d = await this.decodeLink(st.encoded);
      // The address changed again (another link pasted) while this one was read.
      if (gen !== this.startGen) return;
      if (d.ok) scenario = d.raw;
      else refused = true;
      if (!d.ok) problems.unshift(`This link does not hold a usable scenario: ${d.error}. Showing the default scenario instead.`);
    } else if (st.builtin !== null) {
      // A short link: the built-in, under the link's preset (the same reading Share writes it by).
      const b = shortLinkScenario(st.builtin, st.policy);
      if (b) {
        scenario = b;
        builtin = st.builtin;
      } else
        problems.unshift(`There is no built-in scenario "${st.builtin.slice(0, 60)}". Showing the default scenario instead.`);
    }
    let tUs = st.tUs;
    let origin = 'link';
    const kept = loadCurrent();
    if (!scenario && problems.length === 0) {
      if (kept) {
        scenario = kept.scenario;
        tUs = tUs ?? kept.tUs;
        origin = 'kept in this browser';
      }
    } else if (kept && JSON.stringify(kept.scenario) !== JSON.stringify(scenario) && builtinIdOf(kept.scenario) === null) {
      // A link replaces what this browser had open: keep that on the recent list.
      remember(kept.scenario);
    }
    if (!scenario) {
      scenario = BUILTIN_SCENARIOS[DEFAULT_SCENARIO_ID]!;
      builtin = DEFAULT_SCENARIO_ID;
      origin = 'built-in';
    }
    builtin = builtin ?? builtinIdOf(scenario);
    if (st.policy && st.policy !== policyParts(scenario.policy).preset) scenario = { ...scenario, policy: st.policy };
    // What the worker said while it read the link (it failed and was restarted) stays with the link's own problems.
    if (this.decodeAlert !== null) problems.unshift(this.decodeAlert);
    this.decodeAlert = null;
    this.alert = problems.length ? problems.join(' ') : null;
    // A refused link stays in the address bar, to be fixed there, until something else is opened.
    this.keepAddress = refused ? href : null;
    this.load(scenario, {
      origin,
      builtin,
      tUs,
      keepAlert: problems.length > 0,
      fromLink: st.encoded !== null && !refused ? href : undefined,
      fallback: refused,
    });
  }

  /**
   * Run a scenario (as written). Invalid input leaves the current scenario
   * in place and explains what is wrong. The promise says how the load
   * ended: shown, refused (with the message), or replaced by a later load
   * before it ended.
   */
  load(
    scenario: Scenario,
    opts: {
      origin?: string;
      builtin?: string | null;
      tUs?: number | null;
      position?: number;
      afterLoad?: (s: Session) => void;
      keepAlert?: boolean;
      onInvalid?: (msg: string) => void;
      replaces?: boolean;
      /** The address of the link this scenario came from: kept in the address bar if the scenario is refused. */
      fromLink?: string;
      /** The default shown in place of something refused: the address bar keeps what was refused. */
      fallback?: boolean;
    } = {},
  ): Promise<LoadOutcome> {
    this.pause();
    if (!opts.fallback) this.keepAddress = null;
    const id = this.nextId++;
    this.loadId = id;
    this.loading = true;
    this.pendingLoad?.done({ ok: false, superseded: true });
    const outcome = new Promise<LoadOutcome>((done) => {
      this.pendingLoad = { scenario, opts, done };
    });
    this.afterLoad = opts.afterLoad ?? null;
    // A value nested thousands deep would overflow the stack of the copy that
    // posting makes: refused here, with the message validation gives.
    const deep = tooDeep(scenario);
    if (deep !== null)
      this.onMessage({
        type: 'loaded',
        id,
        ok: false,
        errors: [{ path: deep, message: `nested more than ${MAX_NESTING} levels deep` }],
      });
    else this.post({ type: 'load', id, scenario, policy: null, ask: { ...this.ask, focus: null, held: null } });
    return outcome;
  }

  /** Bumped by each start(): a start that finds it changed after reading its link gives way. */
  private startGen = 0;
  /** The alert raised while a link was being read (the worker failed), kept when start() goes on. */
  private decodeAlert: string | null = null;
  /** The link being decoded by the worker. */
  private decoding: { id: number; encoded: string; done: (r: LinkDecoded) => void } | null = null;

  private decodeLink(encoded: string): Promise<LinkDecoded> {
    const id = this.nextId++;
    this.decoding?.done({ ok: false, error: 'another link was opened' });
    return new Promise<LinkDecoded>((done) => {
      this.decoding = { id, encoded, done };
      this.post({ type: 'decode', id, encoded });
    });
  }

  private pendingLoad: {
    scenario: Scenario;
    opts: Parameters<Session['load']>[1] & object;
    done: (o: LoadOutcome) => void;
  } | null = null;

  private onMessage(m: FromWorker): void {
    if (m.type === 'loaded') {
      if (m.id !== this.loadId) return;
      const pl = this.pendingLoad;
      this.pendingLoad = null;
      this.loading = false;
      if (!m.ok) {
        const msg = `The scenario is not valid:\n${formatErrors(m.errors)}`;
        if (pl?.opts.onInvalid) pl.opts.onInvalid(msg);
        else this.alert = msg;
        pl?.done({ ok: false, message: msg });
        if (pl?.opts.fromLink) this.keepAddress = pl.opts.fromLink;
        if (!this.data)
          void this.load(BUILTIN_SCENARIOS[DEFAULT_SCENARIO_ID]!, {
            builtin: DEFAULT_SCENARIO_ID,
            origin: 'built-in',
            keepAlert: true,
            fallback: true,
          });
        return;
      }
      if (pl) {
        if (!pl.opts.keepAlert) this.alert = null;
        const prevJson = JSON.stringify(this.scenario);
        if (pl.opts.replaces && this.data && prevJson !== JSON.stringify(pl.scenario) && this.builtinId === null)
          remember(this.scenario);
        this.scenario = pl.scenario;
        this.builtinId = pl.opts.builtin ?? null;
        this.origin = pl.opts.origin ?? 'edited';
      }
      this.resolved = m.resolved;
      this.data = m.data;
      this.violationCount = m.violations;
      this.result = m.result;
      this.markers = m.markers;
      this.sticky = m.sticky;
      this.askId = m.id;
      this.window = null;
      this.showWindow(m.window);
      this.recording = m.data.recording;
      this.recordingStopped = null;
      this.recordMs = m.data.recording === 'running' ? 0 : m.loadMs;
      if (m.data.recording === 'stopped') this.stoppedAt(m.data.stopReason);
      this.view = m.view;
      this.position = 0;
      this.lastLoadMs = m.loadMs;
      this.#focus = null;
      this.comparison = null;
      this.comparing = false;
      let pos = 0;
      if (pl?.opts.position !== undefined) pos = pl.opts.position;
      else if (pl?.opts.tUs !== null && pl?.opts.tUs !== undefined) pos = this.positionAt(pl.opts.tUs * 1000);
      const after = this.afterLoad;
      this.afterLoad = null;
      // An embedded page does not write over what this browser keeps for the full app.
      if (this.persist) this.storageOk = saveCurrent(this.scenario, null);
      if (pos !== 0) this.seek(pos);
      // The address bar holds the new scenario at once (seeks update it a moment later).
      this.syncUrl();
      after?.(this);
      pl?.done({ ok: true });
      return;
    }
    if (m.type === 'recorded') {
      if (m.id === this.loadId && this.data) this.onRecorded(m);
      return;
    }
    if (m.type === 'decoded') {
      if (this.decoding?.id !== m.id) return;
      const d = this.decoding;
      this.decoding = null;
      d.done(m.result);
      return;
    }
    if (m.type === 'compared') {
      if (m.id !== this.compareId) return;
      this.comparing = false;
      this.comparison = m.rows;
      return;
    }
    if (m.type === 'view') {
      if (m.id < this.seekId) return;
      this.view = m.view;
      this.position = m.position;
      if (m.id >= this.askId) this.showWindow(m.window);
      return;
    }
    if (m.type === 'window') {
      if (m.id >= this.askId) this.showWindow(m.window);
      return;
    }
    if (m.type === 'found') {
      const f = this.finds.get(m.id);
      this.finds.delete(m.id);
      f?.(m.traceId);
      return;
    }
    const find = this.finds.get(m.id);
    if (find) {
      this.finds.delete(m.id);
      find(null);
    } else if (m.id === this.compareId) this.comparing = false;
    else {
      this.loading = false;
      if (m.id === this.loadId) {
        this.pendingLoad?.done({ ok: false, message: m.message });
        this.pendingLoad = null;
      }
    }
    this.alert = m.message;
  }

  /**
   * A window from the worker: a list it left out is the one held (the ask
   * said which), and what is the same keeps its object, so the views
   * drawing it are not redrawn while a run plays.
   */
  private showWindow(w: WindowUpdate): void {
    const old = this.window;
    const log = w.log ?? old?.log;
    const calls = w.calls ?? old?.calls;
    // A list left out with nothing held cannot happen (the ask said none is held); show nothing new then.
    if (!log || !calls) return;
    const next: PageWindow = { ...w, log, calls };
    if (old) {
      if (old.caption && next.caption && old.caption.record.id === next.caption.record.id) next.caption = old.caption;
      if (old.chain && next.chain && old.chain.target.id === next.chain.target.id) next.chain = old.chain;
    }
    this.window = next;
  }

  /** Ask the worker for the window at the position shown again (the filter or the record asked about changed). */
  askWindow(): void {
    if (!this.data) return;
    const id = this.nextId++;
    this.askId = id;
    this.post({ type: 'window', id, position: this.position, ask: this.ask });
  }

  /** Look for a record in the whole trace (in the worker); null when there is none. */
  findRecord(find: RecordFind): Promise<number | null> {
    if (!this.data) return Promise.resolve(null);
    const id = this.nextId++;
    return new Promise((done) => {
      this.finds.set(id, done);
      this.post({ type: 'find', id, find });
    });
  }

  /** More of the run is recorded: the data, marks and sticky records grow; the position shown stays. */
  private onRecorded(m: Recorded): void {
    const d = this.data!;
    const count = m.from + m.times.length - 1;
    this.violationCount = m.violations;
    this.data = {
      ...d,
      count,
      times: grown(d.times, m.times, m.from, (n) => new Float64Array(n)),
      traceLen: grown(d.traceLen, m.traceLen, m.from, (n) => new Uint32Array(n)),
      logLen: grown(d.logLen, m.logLen, m.from, (n) => new Uint32Array(n)),
      callsLen: grown(d.callsLen, m.callsLen, m.from, (n) => new Uint32Array(n)),
      stepAt: m.stepAt,
      recording: m.recording,
      status: m.status,
      stopReason: m.stopReason,
    };
    if (m.result) this.result = m.result;
    if (m.markers.length) this.markers = this.markers.concat(m.markers);
    if (m.sticky.length) this.sticky = this.sticky.concat(m.sticky);
    this.recording = m.recording;
    if (m.recording !== 'running') this.recordMs = m.recordMs;
    if (m.recording === 'stopped') this.stoppedAt(m.stopReason);
  }

  /** Recording stopped at a limit: say so (the run stays usable up to there). */
  private stoppedAt(reason: string | null): void {
    const why = reason ?? 'recording stopped';
    this.recordingStopped = why;
    const msg = `The run is shown up to where recording stopped: ${why}.`;
    this.alert = this.alert ? `${this.alert} ${msg}` : msg;
  }

  private post(m: ToWorker): void {
    this.awaiting.set(m.id, { kind: m.type, sentAt: performance.now() });
    this.watchdog ??= setInterval(() => this.checkWorker(), 500);
    this.worker.postMessage(m);
  }

  /** Ask for the scenario's end state under every policy (once per load). */
  compare(): void {
    if (this.comparison || this.comparing || !this.data) return;
    this.comparing = true;
    this.compareId = this.nextId++;
    this.post({ type: 'compare', id: this.compareId });
  }

  /* ------------------------------------------------------------ position */

  seek(position: number): void {
    if (!this.data) return;
    const p = Math.max(0, Math.min(this.data.count, Math.round(position)));
    this.wantPosition = p;
    this.position = p;
    const id = this.nextId++;
    this.seekId = id;
    this.askId = id;
    this.post({ type: 'seek', id, position: p, ask: this.ask });
    this.scheduleUrl();
  }

  seekTime(tNs: number): void {
    this.seek(this.positionAt(tNs));
  }

  step(): void {
    this.pause();
    this.seek(this.position + 1);
  }
  stepBack(): void {
    this.pause();
    this.seek(this.position - 1);
  }
  toStart(): void {
    this.pause();
    this.seek(0);
  }
  toEnd(): void {
    this.pause();
    this.seek(this.count);
  }

  /** The next (dir 1) or previous (dir -1) marker from the current position. */
  jumpMarker(dir: 1 | -1): void {
    this.pause();
    const ms = this.markers;
    if (dir > 0) {
      const m = ms.find((x) => x.position > this.position);
      if (m) this.seek(m.position);
    } else {
      const m = [...ms].reverse().find((x) => x.position < this.position);
      if (m) this.seek(m.position);
    }
  }

  positionAt(tNs: number): number {
    return this.data ? positionAt(this.data, tNs) : 0;
  }

  /** The position once trace record `id` has been written. */
  positionOfTrace(id: number): number {
    return this.data ? positionOfTrace(this.data, id) : 0;
  }

  /* ------------------------------------------------------------ playback */

  play(): void {
    if (!this.data || this.playing) return;
    if (this.position >= this.count && this.recording !== 'running') this.seek(0);
    this.playing = true;
    this.playFrom = { t: performance.now(), pos: this.position };
    let lastSeek = 0;
    const tick = () => {
      if (!this.playing) return;
      const now = performance.now();
      const pos = this.playFrom.pos + ((now - this.playFrom.t) / 1000) * this.speed;
      const target = Math.min(this.count, Math.floor(pos));
      // Halting at each chapter: the first chapter passed since the last view shown is where Play stops.
      const halt = this.pauseAtChapters ? stopCrossed(this.chapterStops, this.wantPosition, target) : null;
      if (halt !== null) {
        this.seek(halt);
        this.pause();
        return;
      }
      // A new view at most every PLAY_VIEW_MS: the frames between cost the browser nothing.
      if (target !== this.wantPosition && (now - lastSeek >= PLAY_VIEW_MS || target >= this.count)) {
        lastSeek = now;
        this.seek(target);
      }
      if (target >= this.count) {
        if (this.recording !== 'running') {
          this.pause();
          return;
        }
        // At the end of what is recorded so far: wait there for more, and go on from there at the same speed.
        this.playFrom = { t: now, pos: this.count };
      }
      this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
  }

  pause(): void {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.syncUrl();
  }

  toggle(): void {
    if (this.playing) this.pause();
    else this.play();
  }

  setSpeed(v: number): void {
    this.speed = v;
    this.playFrom = { t: performance.now(), pos: this.position };
  }

  faster(dir: 1 | -1): void {
    const i = SPEEDS.indexOf(this.speed as (typeof SPEEDS)[number]);
    const j = Math.max(0, Math.min(SPEEDS.length - 1, (i < 0 ? 4 : i) + dir));
    this.setSpeed(SPEEDS[j]!);
  }

  /* ------------------------------------------------------------ edits */

  private edit(next: Scenario, opts: Parameters<Session['load']>[1] = {}): Promise<LoadOutcome> {
    return this.load(next, { origin: 'edited', builtin: null, ...opts });
  }

  /** Show a built-in scenario (the current one is kept in the recent list). */
  pickBuiltin(id: string): void {
    const s = builtinScenario(id);
    if (!s) return;
    const preset = this.preset;
    this.load({ ...s, policy: preset }, { builtin: id, origin: 'built-in', replaces: true });
  }

  /** A change of policy re-runs the same scenario: a built-in stays a built-in (the policy is not part of what makes it one). */
  private policyOpts(): Parameters<Session['load']>[1] {
    return {
      tUs: this.tNs / 1000,
      builtin: this.builtinId,
      origin: this.builtinId ? 'built-in' : 'edited',
    };
  }

  /** Switch to a preset (its flags at their default), re-running from the same scenario and seed at the same time. */
  setPreset(p: PresetName): void {
    if (!isPresetName(p)) return;
    this.edit({ ...this.scenario, policy: p }, this.policyOpts());
  }

  /** Switch to a policy as written (a preset, or a preset with flags). */
  setPolicy(policy: PolicySpec): void {
    this.edit({ ...this.scenario, policy }, this.policyOpts());
  }

  setFlag(flag: FlagName, on: boolean): void {
    const { preset, flags } = policyParts(this.scenario.policy);
    const next = { ...flags, [flag]: on };
    const base = resolvePolicy(preset).flags;
    for (const f of FLAG_NAMES) if (next[f] === base[f]) delete next[f];
    const policy: PolicySpec = Object.keys(next).length ? ({ preset, ...next } as PolicySpec) : preset;
    this.edit({ ...this.scenario, policy }, this.policyOpts());
  }

  /** Add a step at the current time and show its effect from the moment it runs. */
  inject(step: StepInput): void {
    const at = Math.round(this.tNs) / 1000;
    const steps = [...(this.scenario.steps ?? []), { ...step, at } as Step];
    const index = steps.length - 1;
    this.edit(
      { ...this.scenario, steps },
      {
        afterLoad: (s) => {
          const p = s.data?.stepAt[index] ?? -1;
          s.seek(p >= 0 ? p : s.positionAt(at * 1000));
        },
        onInvalid: (msg) => {
          this.alert = `That action could not be added: ${msg}`;
        },
      },
    );
  }

  /** Replace the scenario with edited JSON text: null once it runs, else what is wrong with it. */
  async applyJson(text: string): Promise<string | null> {
    const parsed = parseJsonText(text);
    if (!parsed.ok) return parsed.message;
    const data = parsed.value;
    const o = await this.edit(data as Scenario, { onInvalid: () => {}, replaces: true, builtin: builtinIdOf(data as Scenario) });
    if (o.ok) return null;
    return 'message' in o ? o.message : null;
  }

  /**
   * Open a scenario file (the file picker or a file dropped on the page):
   * no link limit, only the scenario format's own limits. What is wrong
   * with it goes to the alert, naming the file; the scenario shown stays.
   */
  async openFile(file: File): Promise<LoadOutcome> {
    const name = file.name.length > 60 ? `${file.name.slice(0, 57)}…` : file.name;
    const refuse = (why: string): LoadOutcome => {
      this.alert = `The file "${name}" could not be opened: ${why}`;
      return { ok: false, message: this.alert };
    };
    if (file.size > MAX_FILE_BYTES)
      return refuse(
        `it is ${(file.size / 1024 / 1024).toFixed(1)} MiB; a scenario file may be at most ${MAX_FILE_BYTES / 1024 / 1024} MiB`,
      );
    let text: string;
    try {
      text = await file.text();
    } catch (e) {
      return refuse(`it could not be read (${String((e as Error).message ?? e)})`);
    }
    const parsed = parseJsonText(text);
    if (!parsed.ok) return refuse(parsed.message);
    const raw = parsed.value as Scenario;
    return this.load(raw, {
      origin: `file ${name}`,
      replaces: true,
      builtin: builtinIdOf(raw),
      onInvalid: (msg) => {
        this.alert = `The file "${name}" could not be opened: ${msg}`;
      },
    });
  }

  restoreKept(s: Scenario): void {
    this.edit(s, { origin: 'recent', replaces: true, builtin: builtinIdOf(s) });
  }

  /* ------------------------------------------------------------ sharing */

  shareUrl(): string {
    const base = `${location.origin}${location.pathname}`;
    return linkFor(base, this.scenario, this.preset, Math.round(this.tNs) / 1000);
  }

  private scheduleUrl(): void {
    if (this.urlTimer !== null) return;
    this.urlTimer = setTimeout(
      () => {
        this.urlTimer = null;
        this.syncUrl();
      },
      this.playing ? 500 : 80,
    );
  }

  /**
   * A link that was refused (it could not be read, or its scenario is not
   * valid): the address bar keeps it, so it can be fixed there, while the
   * default is shown, until another scenario is opened.
   */
  private keepAddress: string | null = null;

  /** The refused link the address bar holds, or null. */
  get refusedLink(): string | null {
    return this.keepAddress;
  }

  /** Write the scenario, policy and time to the address bar (no new history entry). */
  syncUrl(): void {
    if (this.keepAddress !== null) return;
    try {
      const url = withExtras(this.shareUrl(), this.addressExtras);
      if (url !== location.href) history.replaceState(null, '', url);
    } catch {
      // A sandboxed page may refuse; the Share button still works.
    }
  }

  presets(): readonly PresetName[] {
    return POLICY_PRESETS;
  }
}
