/**
 * D3 helpers that touch the DOM only where a value changed. A view is
 * redrawn many times a second while a run plays; setting an attribute or a
 * text to the value it already has still costs the browser style and layout
 * work, so every update goes through these.
 */
import type { Selection } from 'd3';

// The element and parent types do not matter here; only the datum does.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySelection<D> = Selection<any, D, any, any>;
type Value<D> = string | number | boolean | ((d: D) => string | number | boolean);

/** Set attribute `name` on each element to the value (or f(datum)), where it differs. */
export function attrIf<D>(sel: AnySelection<D>, name: string, value: Value<D>): void {
  sel.each(function (this: Element, d: D) {
    const v = String(typeof value === 'function' ? value(d) : value);
    if (this.getAttribute(name) !== v) this.setAttribute(name, v);
  });
}

/** Set the text of each element to f(datum), where it differs. */
export function textIf<D>(sel: AnySelection<D>, f: (d: D) => string): void {
  sel.each(function (this: Element, d: D) {
    const v = f(d);
    if (this.textContent !== v) this.textContent = v;
  });
}
