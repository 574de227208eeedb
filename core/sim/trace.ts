/**
 * The trace's vocabulary, as each layer declares it. Every event is
 * declared once, in the trace.ts of the layer that records it (hw/, pci/,
 * kernel/, and core/trace.ts for the engine's own), as QEMU's trace-events
 * declare each trace point with typed arguments: a map from the event's
 * kind to the type of its data, the layer's typed emit() and note(), and
 * beside each event the words for it. core/trace.ts puts the layers
 * together into the TraceRecord union that the app reads.
 */

/** The view an event belongs to (its colour in the causal chain). */
export type TraceLayer = 'step' | 'hw' | 'pci' | 'kernel' | 'core' | 'log' | 'bad';

/** A mark on the timeline for an event worth finding again. */
export interface TraceMark {
  kind: 'fault' | 'error' | 'state' | 'corrupt' | 'violation';
  label: string;
}

/**
 * What the app shows for one kind of event: where it belongs, one line
 * saying what happened, its timeline mark, if it has one, and whether it is
 * a detail of the mechanics (a task starting, a command written, a call
 * returning): shown in the causal chain, but not what the caption says an
 * event did while the event has a record that is not.
 */
export interface TraceWords<D> {
  layer: TraceLayer;
  describe(d: D): string;
  mark?(d: D): TraceMark | null;
  detail?: true;
}

/** The words for every event of a layer's map. */
export type TraceWordsOf<M> = { [K in keyof M]: TraceWords<M[K]> };
