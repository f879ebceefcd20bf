// The trash: versions deleted or overwritten, restorable until their purge time.
import { useState } from "preact/hooks";
import { bytes, relative, when } from "./format.js";
import { ListingToolbar, Pager, useListing } from "./listing.js";
import { ErrorBox, Head, html } from "./ui.js";

const PAGE_SIZE = 50;

export function Trash({ api, onError }) {
  const listing = useListing((bucket, prefix, cursor) => api.trash(bucket, prefix, cursor, PAGE_SIZE), onError, [api]);
  const [notice, setNotice] = useState(null);
  const [actionError, setActionError] = useState(null);
  const undelete = async (key) => {
    setActionError(null);
    try {
      const back = await api.undelete(listing.bucket, key);
      setNotice(`Restored ${back.key} (${bytes(back.size)}).`);
      listing.page.reload();
    } catch (err) {
      if (!onError(err)) setActionError(err);
    }
  };

  const entries = listing.page.data?.entries ?? [];
  return html`<section class="trash">
    <${ListingToolbar} listing=${listing} label="List trash" />
    <p class="hint">
      Deleted and overwritten versions stay here until their purge time. Undelete brings back the key's most recent version in the trash.
    </p>
    ${notice ? html`<p class="notice" role="status">${notice}</p>` : null}
    <${ErrorBox} error=${actionError ?? listing.page.error} />
    <table data-testid="trash">
      <${Head} columns=${["key", "#size", "why", "deleted", "purged", ""]} />
      <tbody>
        ${entries.map(
          (t) =>
            html`<tr data-key=${t.key}>
              <td>${t.key}</td>
              <td class="num">${bytes(t.size)}</td>
              <td>${t.reason}</td>
              <td title=${when(t.deletedAt)}>${relative(t.deletedAt)}</td>
              <td title=${when(t.purgeAt)}>${relative(t.purgeAt)}</td>
              <td class="actions"><button onClick=${() => undelete(t.key)}>Undelete</button></td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${
      listing.page.data && !entries.length
        ? html`<p class="muted">The trash of ${listing.bucket} is empty${listing.prefix ? ` under “${listing.prefix}”` : ""}.</p>`
        : null
    }
    <${Pager} listing=${listing} />
  </section>`;
}
