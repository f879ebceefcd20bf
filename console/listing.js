// A bucket listing a page at a time, shared by the object browser and the trash: the facade hands
// back a cursor for the next page; the cursors already followed take the reader back.
import { useState } from "preact/hooks";
import { html, usePoll } from "./ui.js";

/** `load(bucket, prefix, cursor)` for the current page; `search` starts again from the first. */
export function useListing(load, onError, deps) {
  const [query, setQuery] = useState({ bucket: "default", prefix: "", cursors: [], cursor: "" });
  const page = usePoll(() => load(query.bucket, query.prefix, query.cursor), 0, [...deps, query], onError);
  return {
    ...query,
    page,
    search: (bucket, prefix) => setQuery({ bucket: bucket.trim() || "default", prefix, cursors: [], cursor: "" }),
    next: () => setQuery((q) => ({ ...q, cursors: [...q.cursors, q.cursor], cursor: page.data.nextCursor })),
    previous: () => setQuery((q) => ({ ...q, cursor: q.cursors[q.cursors.length - 1], cursors: q.cursors.slice(0, -1) })),
  };
}

/**
 * Bucket and prefix fields, List and Refresh. The fields hold what the user typed until List: bound
 * to the query instead, any render (a listing answering while they type) put the last query back.
 */
export function ListingToolbar({ listing, label }) {
  const [fields, setFields] = useState({ bucket: listing.bucket, prefix: listing.prefix });
  const edit = (name) => (e) => setFields((f) => ({ ...f, [name]: e.target.value }));
  const submit = (e) => {
    e.preventDefault();
    listing.search(fields.bucket, fields.prefix);
  };
  return html`<form class="toolbar" onSubmit=${submit} aria-label=${label}>
    <label>Bucket <input name="bucket" value=${fields.bucket} onInput=${edit("bucket")} /></label>
    <label>Prefix <input name="prefix" value=${fields.prefix} onInput=${edit("prefix")} placeholder="photos/" /></label>
    <button type="submit">List</button>
    <button type="button" class="link" onClick=${() => listing.page.reload()}>Refresh</button>
  </form>`;
}

export function Pager({ listing }) {
  return html`<nav class="pager">
    <button disabled=${!listing.cursors.length} onClick=${listing.previous}>Previous</button>
    <button disabled=${!listing.page.data?.nextCursor} onClick=${listing.next}>Next</button>
  </nav>`;
}
