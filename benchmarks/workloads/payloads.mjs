// The payload workload: sizes in UTF-16 units (2 KiB is 2048, the largest string crochet
// passes through shared memory) and the calls made with each per process (fewer for the
// big ones).
export const PAYLOADS = [
  ['2 KiB', 2048, 2000],
  ['2 KiB + 1', 2049, 2000],
  ['20 KiB', 20 * 1024, 1000],
  ['200 KiB', 200 * 1024, 200],
  ['2 MiB', 2 * 1024 * 1024, 20],
];
