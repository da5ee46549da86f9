// Keeps a CPU busy for input.ms milliseconds (default 100), reporting progress by quarters.
export default async (input, ctx) => {
  const ms = Number(input?.ms ?? 100);
  const start = performance.now();
  let iterations = 0;
  let reported = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= ms) break;
    iterations++;
    const quarter = Math.floor((elapsed / ms) * 4);
    if (quarter > reported) {
      reported = quarter;
      ctx.progress(quarter * 25);
    }
  }
  ctx.progress(100);
  return { iterations, ms: performance.now() - start };
};
