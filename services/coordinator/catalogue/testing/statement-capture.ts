import type { Pool } from "mysql2/promise";

/** `pool`, recording each query its connections send (after `rewrite`, which a test may use to change it). */
export function countingPool(pool: Pool, sent: string[], sentParams: unknown[][] = [], rewrite = (sql: string) => sql): Pool {
  return new Proxy(pool, {
    get(target, prop) {
      if (prop !== "getConnection") return Reflect.get(target, prop, target);
      return async () => {
        const conn = await target.getConnection();
        return new Proxy(conn, {
          get(c, p) {
            const value = Reflect.get(c, p, c);
            if (p !== "query") return typeof value === "function" ? value.bind(c) : value;
            return (sql: string, ...rest: unknown[]) => {
              const q = rewrite(sql);
              sent.push(q);
              sentParams.push((rest[0] as unknown[] | undefined) ?? []);
              return (value as (...a: unknown[]) => unknown).call(c, q, ...rest);
            };
          },
        });
      };
    },
  });
}

/** The statements of a multi-statement query and each one's own params (split at the placeholders). */
export function statementsOf(sql: string, params: unknown[]): { sql: string; params: unknown[] }[] {
  let at = 0;
  return sql.split(";\n").map((q) => {
    const n = (q.match(/\?/g) ?? []).length;
    at += n;
    return { sql: q, params: params.slice(at - n, at) };
  });
}
