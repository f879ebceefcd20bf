/**
 * Runs `op` from `inFlight` workers, each calling it again as soon as its last call is done, until
 * `ms` have passed; answers how many calls ran. `op` gets its worker's number and that worker's count.
 */
export async function loadFor(ms: number, inFlight: number, op: (worker: number, i: number) => Promise<void>): Promise<number> {
  const end = Date.now() + ms;
  let n = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, w) => {
      for (let i = 0; Date.now() < end; i++, n++) await op(w, i);
    }),
  );
  return n;
}
