import { runNode } from "../rpc/server/run-node";
import { MysqlBackupBackend } from "./backup-backend";
import { BACKUP_MIGRATIONS } from "./backup-schema";

// The backup node (cold tier): the shared node process (config, MariaDB pool, gRPC NodeService,
// heartbeat, signals) around a backend that keeps blobs as compressed chunk rows in MySQL.
runNode({
  kind: "backup",
  migrations: BACKUP_MIGRATIONS,
  // Stored chunks stay at 1 MiB whatever the streaming chunk size (ctx.chunkSize): fewer, larger
  // rows compress better and cost fewer round trips; reads still stream chunk by chunk.
  makeBackend: async ({ id, database, log }) => new MysqlBackupBackend({ nodeId: id, pool: await database(), log }),
  servesFromDatabase: true,
});
