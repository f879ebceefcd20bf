// Multipart upload (CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
// AbortMultipartUpload, ListParts, ListMultipartUploads): registered here, on the router's table
// (router.ts says how). Owned by the multipart work; until it lands, these requests get 501.
import type { S3Deps, S3Router } from "./router";

export function registerMultipartHandlers(router: S3Router, deps: S3Deps): void {
  void router;
  void deps;
  // e.g. router.register({ name: "CreateMultipartUpload", method: "POST", target: "object", subresource: "uploads" }, handler)
}
