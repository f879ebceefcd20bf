// The S3 endpoint assembled: the dispatch table with every handler file's routes, and its server.
import type { Server } from "node:http";
import { registerBatchDelete } from "./batch-delete";
import { registerBucketOps } from "./bucket-ops";
import { registerListing } from "./listing";
import { registerMultipartHandlers } from "./multipart-handlers";
import { registerObjectOps } from "./object-ops";
import { S3Router, type S3Deps } from "./router";
import { createS3Server, type S3ServerOptions } from "./s3-server";

export function s3Router(deps: S3Deps): S3Router {
  const router = new S3Router();
  // Multipart first: its routes are selected by sub-resources (uploadId, uploads) on the same
  // methods and targets as the plain object operations.
  registerMultipartHandlers(router, deps);
  registerBucketOps(router, deps);
  registerObjectOps(router, deps);
  registerBatchDelete(router, deps);
  registerListing(router, deps);
  return router;
}

export function createS3Endpoint(deps: S3Deps, opts: S3ServerOptions): Server {
  return createS3Server(s3Router(deps), opts);
}
