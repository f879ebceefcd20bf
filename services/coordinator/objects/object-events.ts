import type { RequestId } from "../../common/request-context";
import type { NewVersion } from "../catalogue/catalogue";
import type { VersionRow } from "../model/version-row";
import type { ObjectView } from "../model/object-view";

/**
 * What the object engine tells the lifecycle after the catalogue changed. Each call only queues
 * work (BullMQ jobs); the catalogue already holds the truth, so a lost call is found again by the
 * reconciler. `requestId` is the request that caused it: the work queued names it.
 */
export interface ObjectEvents {
  /** A new version is visible; `replaced` went to the trash because of it. */
  committed(v: NewVersion, replaced: string[], requestId: RequestId): void;
  /** A version was deleted by a client: its bytes go to the trash tier. */
  deleted(v: VersionRow, requestId: RequestId): void;
  /** A cold version was read: bring it back to hot. */
  coldRead(v: VersionRow, requestId: RequestId): void;
  /** A version has fewer hot copies than it should. */
  underReplicated(versionId: string, requestId?: RequestId): void;
}

export const NO_EVENTS: ObjectEvents = {
  committed() {},
  deleted() {},
  coldRead() {},
  underReplicated() {},
};

/**
 * Undelete moves bytes back from the trash tier, which is the lifecycle's work. A port like
 * ObjectEvents: the engine calls the lifecycle, the lifecycle never calls the engine.
 */
export interface Undeleter {
  /** `onlyVersion`: see ObjectEngine.undelete. */
  undelete(bucket: string, key: string, requestId: RequestId, onlyVersion?: string): Promise<ObjectView>;
}
