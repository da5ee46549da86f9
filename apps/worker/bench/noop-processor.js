// The sandboxed BullMQ baseline's processor: a no-op, run in a worker thread by BullMQ.
export default async (job) => job.data;
