// Waits for input.count messages (default 1) and returns them in the order received.
// Each message is logged; with input.timeoutMs, gives up waiting after that long.
export default async (input, ctx) => {
  const count = Number(input?.count ?? 1);
  const received = [];
  while (received.length < count) {
    const message = await ctx.receive(undefined, input?.timeoutMs ?? Number.POSITIVE_INFINITY);
    if (typeof message === 'symbol') break;
    ctx.log(`received ${JSON.stringify(message)}`);
    received.push(message);
  }
  return received;
};
