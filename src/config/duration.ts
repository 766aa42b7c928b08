/** Durations in the config (`500ms`, `10s`, `2m`, `1h`, `0`) to milliseconds. The schema checks the shape first. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/;

/** Milliseconds of a duration string; `0` means "off". Throws on a shape the schema would have refused. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  const m = DURATION.exec(text);
  if (!m) throw new RangeError(`not a duration: ${JSON.stringify(text)} (expected e.g. 500ms, 10s, 2m, 1h)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}
