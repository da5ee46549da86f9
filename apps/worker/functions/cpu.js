// Keeps a CPU busy for input.ms milliseconds (default 100), reporting progress as it goes.
export default async (input, ctx) => {
  const ms = Number(input?.ms ?? 100);
  const start = performance.now();
  let iterations = 0;
  let reported = 0;
  while (performance.now() - start < ms) {
    iterations++;
    const done = Math.floor(((performance.now() - start) / ms) * 4);
    if (done > reported) {
      reported = done;
      ctx.progress(done * 25);
    }
  }
  return { iterations, ms: performance.now() - start };
};
