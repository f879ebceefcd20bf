import { isDatabaseUnavailable, isStatementError } from "../../common/db/datasource";
import type { Logger } from "../../common/logger";
import type { RequestId } from "../../common/request-context";

/** What settling an upload whose catalogue commit failed needs. */
export interface FailedCommitDeps {
  /** The version's row, read afresh (on another connection than the commit's). */
  version(versionId: string): Promise<unknown>;
  /** Deletes the upload's copies on its replicas. */
  discard(versionId: string, replicas: string[], requestId: RequestId): Promise<unknown>;
  log: Logger;
}

/**
 * After a failed commit: was it really not committed? A connection lost after COMMIT reached the
 * server looks like a failure too, and deleting the bytes then would leave a visible object without
 * them. So: the row is there → committed after all (true: go on). The server refused the statement
 * → surely not committed: discard the copies (false). The connection failed (lost, timed out, cut
 * at the command deadline) → the COMMIT may still be running on the server and land after this
 * look, which is on another connection (review finding 19, "ambiguous commit"): keep the copies and
 * fail (false); if the row never appears, the scrubber's orphan sweep deletes them after
 * MINIS3_ORPHAN_GRACE. The same when the row cannot be looked at.
 */
export async function committedDespiteError(
  deps: FailedCommitDeps,
  versionId: string,
  replicas: string[],
  e: unknown,
  requestId: RequestId,
): Promise<boolean> {
  const at = { err: e, version: versionId, requestId };
  let row;
  try {
    row = await deps.version(versionId);
  } catch {
    deps.log.error(at, "catalogue commit failed and could not be checked; keeping the copies");
    return false;
  }
  if (row) {
    deps.log.warn(at, "catalogue commit reported an error but had committed");
    return true;
  }
  if (mayStillCommit(e)) {
    deps.log.error(
      at,
      "catalogue commit's connection failed: it may still land, so the copies stay (the orphan sweep removes them if not)",
    );
    return false;
  }
  deps.log.error(at, "catalogue commit failed; discarding the upload");
  await deps.discard(versionId, replicas, requestId);
  return false;
}

/** The driver lost the connection (no answer from the server), as against the server refusing. */
function mayStillCommit(e: unknown): boolean {
  return isDatabaseUnavailable(e) && !isStatementError(e);
}
