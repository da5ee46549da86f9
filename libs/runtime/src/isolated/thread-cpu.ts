type CpuUsage = { user: number; system: number };
const threadCpuUsage = (process as unknown as { threadCpuUsage?: () => CpuUsage }).threadCpuUsage;

/**
 * CPU time the calling thread has used, ms (the whole process's on a Node without
 * `process.threadCpuUsage`, before 22.19). What handling a message cost the main thread is
 * measured with it, not with the wall clock: on a busy machine the sandboxes preempt the main
 * thread, and a message read while they ran looked costly (a tenant's CPU-bound jobs got its own
 * short jobs paused for seconds).
 */
export const threadCpuMs: () => number = threadCpuUsage
  ? () => {
      const { user, system } = threadCpuUsage.call(process);
      return (user + system) / 1000;
    }
  : () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    };
