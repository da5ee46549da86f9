// Loops forever without yielding: only a timeout, a CPU limit or a kill ends it.
export default async () => {
  for (;;) {}
};
