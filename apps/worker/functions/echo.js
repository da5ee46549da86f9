// Returns its input unchanged.
export default async (input) => input;
