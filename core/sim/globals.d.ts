/**
 * structuredClone is a global in every runtime the core targets (Node >= 17,
 * browsers, Web Workers) but is declared only by the DOM and Node type
 * libraries, which core/ deliberately does not load.
 */
declare function structuredClone<T>(value: T, options?: { transfer?: unknown[] }): T;
