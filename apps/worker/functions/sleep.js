// Waits input.ms milliseconds (default 1000), then returns how long it slept.
export default async (input, ctx) => {
  const ms = Number(input?.ms ?? 1000);
  await ctx.sleep(ms);
  return { slept: ms };
};
