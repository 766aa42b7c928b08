// Instructions per request of kept callgrind files (instructions.mjs KEEP=dir), split by who executed them: TurboFan
// (`v8::internal::compiler::`, a warm-up that went on for thousands of requests under valgrind), major GC (marking,
// sweeping, compaction: whether one lands in the window is a step) and the rest, the per-request work, which is
// the same to the instruction from run to run. With two files, also the per-function difference of self costs.
// Usage: node bench/experiments/cg-split.mjs FILE:REQUESTS [FILE:REQUESTS] [TOP=30]
import { execFileSync } from 'node:child_process';

const COMPILER = /v8::internal::(compiler|maglev)::/;
const MAJOR_GC = /Marking|Sweeper|MarkCompact|Evacuat|MemoryChunk|RememberedSet|PointersUpdating|SizeFromMap|IteratePointers|InternalizedStringTableCleaner|RecordMigratedSlot/;

/** Self cost per request by function (JIT addresses folded into one "JIT" entry), and the total. */
function selfCosts(file, requests) {
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { maxBuffer: 1 << 28 }).toString();
  const byFunction = new Map();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$/.exec(line);
    if (!m) continue;
    const ir = Number(m[1].replaceAll(',', '')) / requests;
    if (m[2].includes('PROGRAM TOTALS')) total = ir;
    else {
      const name = m[2].includes('[???]') ? 'JIT code [???]' : m[2];
      byFunction.set(name, (byFunction.get(name) ?? 0) + ir);
    }
  }
  return { total, byFunction };
}

const k = (ir) => `${(ir / 1000).toFixed(1)} k`;
const args = process.argv.slice(2).map((a) => {
  const at = a.lastIndexOf(':');
  return { file: a.slice(0, at), requests: Number(a.slice(at + 1)) };
});
const costs = args.map(({ file, requests }) => selfCosts(file, requests));
console.log('| file | total | TurboFan | major GC | work (the rest) |\n|---|---|---|---|---|');
costs.forEach(({ total, byFunction }, i) => {
  let compiler = 0;
  let gc = 0;
  for (const [name, ir] of byFunction) {
    const fn = name.split('(')[0];
    if (COMPILER.test(fn)) compiler += ir;
    else if (MAJOR_GC.test(fn)) gc += ir;
  }
  console.log(`| ${args[i].file} | ${k(total)} | ${k(compiler)} | ${k(gc)} | ${k(total - compiler - gc)} |`);
});
if (costs.length === 2) {
  const [a, b] = costs.map((c) => c.byFunction);
  const names = [...new Set([...a.keys(), ...b.keys()])].filter((n) => !/SpinEventLoop|start_thread|clone|libc_start|below main|main \[|Run\(\)|node::Start|ld-linux/.test(n));
  const diff = (n) => (b.get(n) ?? 0) - (a.get(n) ?? 0);
  names.sort((x, y) => Math.abs(diff(y)) - Math.abs(diff(x)));
  console.log('\nself instructions per request, second minus first:');
  for (const n of names.slice(0, Number(process.env.TOP ?? 30))) {
    console.log(`${diff(n).toFixed(0).padStart(8)} ${(a.get(n) ?? 0).toFixed(0).padStart(8)} ${(b.get(n) ?? 0).toFixed(0).padStart(8)}  ${n.slice(0, 140)}`);
  }
}
