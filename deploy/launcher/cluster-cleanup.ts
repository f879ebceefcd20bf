import { createConnection } from "mysql2/promise";
import { Redis } from "ioredis";
import { parseMysqlUrl } from "../../services/common/db/pool";

/** Drops the database a test cluster used (the name comes from the URL, checked by parseMysqlUrl). */
export async function dropDatabase(mysqlUrl: string): Promise<void> {
  const t = parseMysqlUrl(mysqlUrl);
  const conn = await createConnection({ host: t.host, port: t.port, user: t.user, password: t.password });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${t.database}\``);
  } finally {
    await conn.end();
  }
}

/** Deletes every Redis key that contains the (unique, random) queue prefix. */
export async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<number> {
  if (!/^[A-Za-z0-9_.-]{8,}$/.test(prefix)) throw new Error(`refusing to delete keys for a short or odd prefix "${prefix}"`);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `*${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}
