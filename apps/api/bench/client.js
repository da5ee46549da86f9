// Load generator for the API benchmark, in its own process: `node client.js <url> <key> <mode> <count> <concurrency> <batch>`.
// Prints { rate } (jobs accepted per second) as JSON.
const [url, key, mode, countText, concurrencyText, batchText] = process.argv.slice(2);
const count = Number(countText);
const concurrency = Number(concurrencyText);
const batch = Number(batchText);
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const job = { function: 'echo', input: { n: 1 } };
const path = mode === 'batch' ? '/v1/jobs/batch' : '/v1/jobs';
const body = JSON.stringify(mode === 'batch' ? { jobs: Array(batch).fill(job) } : job);
let next = 0;
const start = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      const response = await fetch(`${url}${path}`, { method: 'POST', headers, body });
      if (response.status !== 202) throw new Error(`${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    }
  }),
);
const jobs = count * (mode === 'batch' ? batch : 1);
process.stdout.write(JSON.stringify({ rate: jobs / ((performance.now() - start) / 1000) }));
