// The sandboxed baselines' processor: busy for job.data.input.ms (or job.data.ms) milliseconds.
export default async (job) => {
  if (job.data?.sleepMs) await new Promise((resolve) => setTimeout(resolve, job.data.sleepMs));
  const end = performance.now() + Number(job.data?.input?.ms ?? job.data?.ms ?? 0);
  while (performance.now() < end) {}
  return job.data;
};
