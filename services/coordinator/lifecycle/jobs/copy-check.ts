import type { VersionRow } from "../../model/version-row";
import type { JobContext } from "./job";

/**
 * Has a node re-read its copy of a version against the catalogue's size and sha256 (VerifyBlob):
 * by content, since a stat reads only the header, which stays right when the bytes rot (review
 * finding 3). `unreachable`: the node did not answer.
 */
export async function checkCopy(
  ctx: Pick<JobContext, "nodes" | "requestId">,
  v: VersionRow,
  nodeId: string,
): Promise<"good" | "bad" | "unreachable"> {
  try {
    const { meta } = await ctx.nodes.client(nodeId).checkBlob(v.versionId, undefined, ctx.requestId);
    return meta && meta.size === v.size && meta.sha256.toString("hex") === v.sha256 ? "good" : "bad";
  } catch {
    return "unreachable";
  }
}
