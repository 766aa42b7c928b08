import { describe, expect, it } from 'vitest';
import { editDistance, suggestClosest } from './suggest.js';

describe('editDistance', () => {
  it.each([
    ['equal strings', 'middlewares', 'middlewares', 0],
    ['empty to word', '', 'abc', 3],
    ['word to empty', 'abc', '', 3],
    ['one deletion', 'middlewares', 'middleware', 1],
    ['one insertion', 'servce', 'service', 1],
    ['one substitution', 'rule', 'rile', 1],
    ['two insertions', 'adress', 'addresss', 2],
    ['transposition', 'serivce', 'service', 1],
    ['case matters here', 'Log', 'log', 1],
    ['classic example', 'kitten', 'sitting', 3],
  ])('%s: %s → %s = %i', (_description, a, b, expected) => {
    expect(editDistance(a, b)).toBe(expected);
    expect(editDistance(b, a)).toBe(expected);
  });
});

describe('suggestClosest', () => {
  const routerKeys = ['rule', 'priority', 'entryPoints', 'middlewares', 'service', 'respond', 'redirect'];
  it.each([
    ['missing plural s', 'middleware', routerKeys, 'middlewares'],
    ['transposed letters', 'serivce', routerKeys, 'service'],
    ['different case only', 'EntryPoints', routerKeys, 'entryPoints'],
    ['typo in a long key', 'entrypionts', routerKeys, 'entryPoints'],
    ['one letter off a short key', 'rul', routerKeys, 'rule'],
    ['nearest of several close ones', 'respnd', routerKeys, 'respond'],
    ['unrelated word gets nothing', 'backend', routerKeys, undefined],
    ['short word too far gets nothing', 'url', routerKeys, undefined],
    ['no candidates', 'rule', [], undefined],
    ['the word itself is not a suggestion', 'rule', ['rule'], undefined],
  ])('%s: %s', (_description, word, candidates, expected) => {
    expect(suggestClosest(word, candidates)).toBe(expected);
  });
});
