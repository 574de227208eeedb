/**
 * Every kind of event the queue carries. Events are plain data; the trace
 * id that scheduled one is kept in its queue entry (QEntry.cause).
 */
export type SimEvent =
  | { k: 'step'; index: number; injected: boolean }
  | { k: 'task.resume'; task: number; token: number; ret: number }
  | { k: 'task.timeout'; task: number; token: number }
  | { k: 'hw.consume' }
  | { k: 'hw.sync_deadline'; token: number }
  | { k: 'irq.gerror' }
  | { k: 'irq.evtq' }
  | { k: 'work.broken'; bdf: string };
