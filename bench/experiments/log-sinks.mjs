// CPU per access-log line for candidate stdout sinks, in one process, lines like the access log's written to
// /dev/null (or SINK_PATH). process.cpuUsage counts the libuv pool thread that does the fs.write too.
// Usage: node bench/experiments/log-sinks.mjs [variant...]; env LINES (200000), ROUNDS (3)
import { closeSync, openSync, write as fsWrite } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const SonicBoom = require('sonic-boom');
const LINES = Number(process.env.LINES ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

/** Lines as the access log builds them: a template literal over JSON.stringify'd fields (a cons string). */
function line(i) {
  const str = JSON.stringify;
  return `{"level":"info","time":"2025-01-01T00:00:00.${String(i % 1000).padStart(3, '0')}Z","name":"gatehouse","entryPoint":${str('web')},"method":${str('GET')},"host":${str('bench.test')},"path":${str('/small')},"status":200,"bytes":23,"durationMs":${(i % 700) / 100},"router":${str('bench')},"upstream":${str('http://127.0.0.1:40000')},"clientIp":${str('127.0.0.1')},"msg":"request"}\n`;
}

/** Buffer sink: each line encoded into a preallocated buffer; full batches queue while one write is out. */
function bufferSink(fd, viaWrite) {
  const SIZE = 65536;
  let cur = Buffer.allocUnsafeSlow(SIZE);
  let used = 0;
  const queue = [];
  const spare = [];
  let writing = false;
  const rotate = () => {
    queue.push([cur, used]);
    cur = spare.pop() ?? Buffer.allocUnsafeSlow(SIZE);
    used = 0;
    if (!writing) kick();
  };
  const kick = () => {
    const [buf, n] = queue.shift();
    writing = true;
    fsWrite(fd, buf, 0, n, null, () => {
      writing = false;
      if (spare.length < 2) spare.push(buf);
      if (queue.length) kick();
      else if (used >= 8192) rotate();
    });
  };
  return {
    write(s) {
      if (s.length * 3 > SIZE - used) rotate();
      used += viaWrite ? cur.write(s, used) : cur.utf8Write(s, used);
      if (used >= 8192 && !writing) rotate();
    },
    end(cb) {
      const wait = () => (writing ? setImmediate(wait) : used ? (rotate(), setImmediate(wait)) : cb());
      wait();
    },
  };
}

/** String sink: lines concatenated, one fs.write of the string per 8 KiB (length counted in UTF-16 units). */
function stringSink(fd) {
  let pending = '';
  let writing = false;
  const kick = () => {
    writing = true;
    const out = pending;
    pending = '';
    fsWrite(fd, out, null, 'utf8', () => {
      writing = false;
      if (pending.length >= 8192) kick();
    });
  };
  return {
    write(s) {
      pending += s;
      if (pending.length >= 8192 && !writing) kick();
    },
    end(cb) {
      const wait = () => (writing ? setImmediate(wait) : pending ? (kick(), setImmediate(wait)) : cb());
      wait();
    },
  };
}

function sonicSink(fd) {
  const s = new SonicBoom({ fd, sync: false, minLength: 8192 });
  return { write: (l) => s.write(l), end: (cb) => s.flush(() => cb()) };
}

const variants = {
  none: () => ({ write() {}, end: (cb) => cb() }),
  'sonic-boom': sonicSink,
  'buffer-utf8Write': (fd) => bufferSink(fd, false),
  'buffer-write': (fd) => bufferSink(fd, true),
  'string-concat': stringSink,
};

async function run(name) {
  const fd = openSync(process.env.SINK_PATH ?? '/dev/null', 'w');
  const sink = variants[name](fd);
  const t0 = process.cpuUsage();
  // Lines arrive a few at a time between event-loop turns, as requests finish.
  for (let i = 0; i < LINES; ) {
    for (let j = 0; j < 20; j++, i++) sink.write(line(i));
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => sink.end(r));
  const d = process.cpuUsage(t0);
  closeSync(fd);
  return ((d.user + d.system) * 1000) / LINES;
}

const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(variants);
const results = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) for (const n of names) results[n].push(await run(n));
console.log('| sink | ns CPU per line (rounds) | median |\n|---|---|---|');
for (const n of names) {
  const v = results[n].slice().sort((a, b) => a - b);
  console.log(`| ${n} | ${results[n].map((x) => x.toFixed(0)).join(' ')} | ${v[v.length >> 1].toFixed(0)} |`);
}
