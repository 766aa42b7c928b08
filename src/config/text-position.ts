/**
 * Offsets in a config file's text turned into the line and column an editor shows (UTF-16 code units, 1-based), for
 * the JSONC and the YAML reader alike.
 */

/** A 1-based line and column (UTF-16 code units, as editors count them) and the 0-based offset. */
export interface TextPosition {
  line: number;
  column: number;
  offset: number;
}

/** The position of each offset of `text`, by a binary search over its line starts. */
export function positionsOf(text: string): (offset: number) => TextPosition {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1, offset };
  };
}
