/**
 * "Did you mean" for unknown config keys. Only close candidates are offered: a wrong suggestion costs the
 * reader more than none.
 */

/** Edit distance between two strings (insert, delete, substitute, and swap of two neighbours each cost 1). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  // Three rolling rows of the optimal-string-alignment table: the row before last is needed for swaps.
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, before[j - 2]! + 1);
      cur[j] = best;
    }
    [before, prev, cur] = [prev, cur, before];
  }
  return prev[b.length]!;
}

/**
 * The candidate nearest to `word`, or undefined when none is close enough to be a likely typo. Case is
 * ignored when measuring (`EntryPoints` → `entryPoints`), and the allowed distance grows with the length of
 * the word: 1 for short words, up to a third of the longer one.
 */
export function suggestClosest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    const allowed = Math.max(1, Math.floor(Math.max(word.length, candidate.length) / 3));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
