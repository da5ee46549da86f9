// Throws an error with input.message (default "failed on purpose").
export default async (input) => {
  throw new Error(input?.message ?? 'failed on purpose');
};
