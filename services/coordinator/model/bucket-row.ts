/** A bucket as the catalogue holds it (and the client APIs show it). */
export interface BucketRow {
  name: string;
  createdMs: number;
  /** The user who created it through S3; "" when an upload made it. */
  owner: string;
}
