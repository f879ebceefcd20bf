import type { Pool } from "mysql2/promise";

/**
 * `pool`, on which each query that `match`es is sent `delayMs` late, as on a catalogue large enough
 * for it to take that long or on a busy machine; `matched()` counts them.
 */
export function slowQueries(pool: Pool, match: RegExp, delayMs: number): { pool: Pool; matched: () => number } {
  let matched = 0;
  const slow = new Proxy(pool, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "query") return typeof value === "function" ? value.bind(target) : value;
      return async (sql: string, ...rest: unknown[]) => {
        if (match.test(sql)) {
          matched++;
          await new Promise((r) => setTimeout(r, delayMs));
        }
        return (value as (...a: unknown[]) => unknown).call(target, sql, ...rest);
      };
    },
  });
  return { pool: slow, matched: () => matched };
}
