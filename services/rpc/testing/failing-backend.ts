import type { BlobBackend } from "../blob-backend";

/**
 * A node backend whose every operation fails with what `failure()` returns: the node is up and
 * answers, with an error (its MariaDB down, a bad checksum...).
 */
export function failingBackend(failure: () => unknown): BlobBackend {
  const fail = async (): Promise<never> => {
    throw failure();
  };
  return {
    kind: "storage",
    open: async () => undefined,
    close: async () => undefined,
    beginWrite: fail,
    putSmall: fail,
    read: fail,
    stat: fail,
    verify: fail,
    delete: fail,
    stats: fail,
    // eslint-disable-next-line require-yield
    list: async function* () {
      throw failure();
    },
  };
}
