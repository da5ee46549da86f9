// Allocates memory without bound: its memory limit ends it.
export default async () => {
  const kept = [];
  for (;;) kept.push({ at: Math.random(), pad: new Array(64).fill(0) });
};
