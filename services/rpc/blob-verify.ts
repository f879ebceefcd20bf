import { AbortedError, IntegrityError, NotFoundError } from "../common/errors";
import type { BlobBackend, BlobVerification } from "./blob-backend";

/** Disk errors that mean the bytes cannot be read back (a bad sector, a file cut short under us). */
const UNREADABLE = new Set(["EIO", "EBADMSG", "EUCLEAN"]);

/**
 * A backend's verify() by reading the whole blob through `backend`'s read(), which checks it
 * against the stored sha256 (and the backup node each chunk's checksum on the way; a storage
 * node's blob files each block's crc32, and the sha256 only when verify asks: disk-backend.ts), so
 * reading to the end is the check, and one code path serves reads and verification alike.
 */
export async function verifyByReading(backend: Pick<BlobBackend, "read">, blobId: string, signal?: AbortSignal): Promise<BlobVerification> {
  try {
    if (signal?.aborted) throw new AbortedError(`verify of ${blobId} cancelled`);
    const reader = await backend.read(blobId, 0, undefined);
    // Breaking out (abort) makes the loop call return(), which closes the backend's reader.
    for await (const chunk of reader.chunks) {
      void chunk;
      if (signal?.aborted) throw new AbortedError(`verify of ${blobId} cancelled`);
    }
    return { verdict: "ok", meta: reader.meta };
  } catch (e) {
    if (e instanceof NotFoundError) return { verdict: "missing" };
    if (e instanceof IntegrityError) return { verdict: "corrupt", problem: e.message };
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code && UNREADABLE.has(code)) return { verdict: "corrupt", problem: `${blobId} is unreadable: ${code}` };
    throw e;
  }
}
