// What undici's parser pays to copy every body byte into wasm memory (client-h1.js `execute`: `new Uint8Array(
// llhttp.memory.buffer, ptr, size).set(chunk)` per socket read), against the 1 MiB response it forwards.
// Usage: node bench/experiments/wasm-copy.mjs   (in-process, single-threaded; prints µs per MiB copied)
const CHUNK = 64 * 1024;
const memory = new WebAssembly.Memory({ initial: 32 }); // 2 MiB, like llhttp's heap
const ptr = 4096;
// Fresh chunks each round, as socket reads are: a copy from memory the CPU has just written (as after a read()).
const chunks = Array.from({ length: 64 }, () => Buffer.alloc(CHUNK, 'x'));
const copyMiB = () => {
  for (let i = 0; i < 16; i++) new Uint8Array(memory.buffer, ptr, CHUNK).set(chunks[(i + Math.floor(Math.random() * 48)) % 64]);
};
for (let i = 0; i < 200; i++) copyMiB(); // warm up
const rounds = 2000;
const t0 = process.hrtime.bigint();
for (let i = 0; i < rounds; i++) copyMiB();
const us = Number(process.hrtime.bigint() - t0) / 1000 / rounds;
console.log(`copying 1 MiB into wasm memory in 64 KiB chunks: ${us.toFixed(1)} µs per MiB`);
