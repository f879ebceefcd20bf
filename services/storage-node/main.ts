import { runNode } from "../rpc/server/run-node";
import { DiskBackend } from "../blobstore/disk-backend";

// A storage node: the hot tier. Small blobs in segment files, large ones as files, all on local disk.
runNode({
  kind: "storage",
  makeBackend: ({ dataDir, chunkSize, log, maxSmallBlobs }) => new DiskBackend({ dataDir, chunkSize, log, maxSmallBlobs }),
});
