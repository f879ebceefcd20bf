import { runNode } from "../rpc/server/run-node";
import { trashBackend } from "./trash-backend";

// The delete node: trashed and overwritten versions, kept with their attributes until the coordinator purges them.
runNode({
  kind: "delete",
  makeBackend: ({ dataDir, chunkSize, log, maxSmallBlobs }) => trashBackend({ dataDir, chunkSize, log, maxSmallBlobs }),
});
