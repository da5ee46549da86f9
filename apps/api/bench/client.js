// Load generator for the API benchmark, in its own process so that it does not take CPU from the
// server under test inside that server's process (the machine has 2 cores; server, client and
// Redis each get their own process): `node client.js '<options as JSON>'`.
// One autocannon run (HTTP/1.1, keep-alive, no pipelining unless asked) of warmupSeconds +
// seconds; only the responses that arrive in the last `seconds` count, by status code, so the
// figure is the steady state: neither the ramp of fresh connections nor the requests cut off at
// the end weigh on it (they would, for requests that take as long as a batch of 500).
// Prints "measuring" when the window opens, "measured" when it closes, then the counts as JSON.
import autocannon from 'autocannon';

const { warmupSeconds, seconds, ...options } = JSON.parse(process.argv[2]);
const statusCodes = {};
const latencies = [];
let errors = 0;
let from;
let to;
const instance = autocannon({ ...options, duration: warmupSeconds + seconds });
const inWindow = () => from !== undefined && to === undefined;
instance.on('response', (_client, statusCode, _bytes, responseTime) => {
  if (!inWindow()) return;
  statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
  latencies.push(responseTime);
});
instance.on('reqError', () => {
  if (inWindow()) errors++;
});
setTimeout(() => {
  from = performance.now();
  process.stdout.write('measuring\n');
}, warmupSeconds * 1000);
const closeWindow = () => {
  if (to !== undefined) return;
  to = performance.now();
  process.stdout.write('measured\n');
};
const windowEnd = setTimeout(closeWindow, (warmupSeconds + seconds) * 1000);
await instance;
// autocannon may finish a moment before the timer: the window closes before the counts are printed.
clearTimeout(windowEnd);
closeWindow();
latencies.sort((a, b) => a - b);
const at = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? null;
const non2xx = Object.entries(statusCodes).reduce((sum, [code, n]) => sum + (code.startsWith('2') ? 0 : n), 0);
process.stdout.write(
  `${JSON.stringify({ seconds: (to - from) / 1000, statusCodes, non2xx, errors, latencyMs: { p50: at(50), p99: at(99) } })}\n`,
);
