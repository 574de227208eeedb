import { describe, expect, it } from 'vitest';
import { fullAppLink, modeParams, parsePageMode } from '../lib/mode.ts';
import { withExtras } from '../lib/session.svelte.ts';

describe('page mode from the address', () => {
  it('present=1 and embed=1 turn the modes on; 0 or absent leaves them off', () => {
    expect(parsePageMode('?present=1')).toEqual({ present: true, embed: false, errors: [] });
    expect(parsePageMode('embed=1&t=5')).toEqual({ present: false, embed: true, errors: [] });
    expect(parsePageMode('?present=0&embed=false')).toEqual({ present: false, embed: false, errors: [] });
    expect(parsePageMode('')).toEqual({ present: false, embed: false, errors: [] });
    expect(parsePageMode('?present')).toMatchObject({ present: true });
  });
  it('a value that is neither is named, and the mode stays off', () => {
    const m = parsePageMode('?present=maybe&embed=%E0%A4%A');
    expect(m.present).toBe(false);
    expect(m.embed).toBe(false);
    expect(m.errors[0]).toBe('present=maybe is not 1 or 0 (present=1 turns it on)');
    expect(m.errors).toHaveLength(2);
  });
  it('the address keeps the mode beside the share link; the full-app link drops embed=1 only', () => {
    expect(modeParams({ present: true, embed: false })).toBe('present=1');
    expect(withExtras('http://h/p/?policy=v4&t=30#s=abc-_', 'present=1')).toBe('http://h/p/?policy=v4&t=30&present=1#s=abc-_');
    expect(withExtras('http://h/p/#s=abc', 'embed=1')).toBe('http://h/p/?embed=1#s=abc');
    expect(withExtras('http://h/p/?scenario=x', '')).toBe('http://h/p/?scenario=x');
    expect(fullAppLink('http://h/p/?policy=v4&embed=1&t=30#s=abc-_')).toBe('http://h/p/?policy=v4&t=30#s=abc-_');
  });
});
