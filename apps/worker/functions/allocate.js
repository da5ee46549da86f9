// Allocates memory without bound: its memory limit ends it.
export default async () => {
  const kept = [];
  for (;;) kept.push({ at: Date.now(), pad: new Array(64).fill(kept.length) });
};
