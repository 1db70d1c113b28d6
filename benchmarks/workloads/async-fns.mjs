// The asynchronous functions that make-synchronized runs in its worker (it imports this
// module there): the tiny-call and payload workloads.
const table = new Map(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i * 3 + 1]));

export const lookup = async (key) => table.get(key);
export const echo = async (text) => text;
