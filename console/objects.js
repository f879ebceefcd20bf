// The object browser: list a bucket by prefix (a page at a time, following the facade's cursor),
// upload with a progress bar, look at an object, download it, delete it (with an undo: a delete
// moves the object to the trash, from where it can be brought back until it is purged).
import { useRef, useState } from "preact/hooks";
import { bytes, relative, when } from "./format.js";
import { ListingToolbar, Pager, useListing } from "./listing.js";
import { ErrorBox, Head, html, usePoll } from "./ui.js";

const PAGE_SIZE = 50;

function Uploader({ api, bucket, prefix, onUploaded, onError }) {
  const [progress, setProgress] = useState(null);
  const [error, setError] = useState(null);
  const input = useRef(null);
  const cancel = useRef(null);

  const upload = async (e) => {
    e.preventDefault();
    const files = Array.from(input.current.files ?? []);
    if (!files.length) return;
    const total = files.reduce((t, f) => t + f.size, 0);
    let done = 0;
    setError(null);
    cancel.current = new AbortController();
    try {
      for (const file of files) {
        const key = `${prefix}${file.name}`;
        await api.upload(bucket, key, file, (sent) => setProgress({ name: key, sent: done + sent, total }), cancel.current.signal);
        done += file.size;
        setProgress({ name: key, sent: done, total });
      }
      input.current.value = "";
      onUploaded(
        files.length === 1 ? `Uploaded ${prefix}${files[0].name} (${bytes(total)}).` : `Uploaded ${files.length} files (${bytes(total)}).`,
      );
    } catch (err) {
      if (!onError(err)) setError(err);
    } finally {
      setProgress(null);
      cancel.current = null;
    }
  };
  const pct = progress && progress.total ? Math.floor((100 * progress.sent) / progress.total) : 0;
  return html`<form class="upload" onSubmit=${upload} aria-label="Upload">
    <label>Upload to <code>${bucket}/${prefix}</code>… <input type="file" multiple ref=${input} required /></label>
    <button type="submit" disabled=${!!progress}>Upload</button>
    ${
      progress
        ? html`<div class="progress" data-testid="upload-progress">
            <progress max="100" value=${pct}></progress>
            <span>${progress.name}: ${bytes(progress.sent)} of ${bytes(progress.total)} (${pct} %)</span>
            <button type="button" class="link" onClick=${() => cancel.current?.abort()}>Cancel</button>
          </div>`
        : null
    }
    <${ErrorBox} error=${error} />
  </form>`;
}

/** An object's /stat, every field the facade gives (the schedule fields included, when it has them). */
function Details({ api, bucket, objectKey, onError, onClose }) {
  const { data, error } = usePoll(() => api.stat(bucket, objectKey), 0, [bucket, objectKey], onError);
  const shown = ["bucket", "key"];
  return html`<aside class="details" data-testid="details">
    <h3>${objectKey} <button class="link" onClick=${onClose}>close</button></h3>
    <${ErrorBox} error=${error} />
    ${
      data
        ? html`<dl class="facts">
            ${Object.entries(data)
              .filter(([name]) => !shown.includes(name))
              .map(
                ([name, value]) =>
                  html`<dt>${name}</dt>
                    <dd>${factOf(name, value)}</dd>`,
              )}
          </dl>`
        : null
    }
  </aside>`;
}

function factOf(name, value) {
  if (name === "size") return `${bytes(value)} (${value.toLocaleString()} bytes)`;
  // The object's next lifecycle move ({transition, due}; null: nothing scheduled).
  if (name === "next") return value ? `${value.transition} ${relative(value.due)} (${when(value.due)})` : "nothing scheduled";
  if (typeof value === "string" && /At$/.test(name) && !Number.isNaN(Date.parse(value))) return `${when(value)} (${relative(value)})`;
  if (Array.isArray(value)) return value.join(", ") || "—";
  if (value && typeof value === "object") return html`<code>${JSON.stringify(value)}</code>`;
  return String(value);
}

export function Objects({ api, onError }) {
  const listing = useListing((bucket, prefix, cursor) => api.list(bucket, prefix, cursor, PAGE_SIZE), onError, [api]);
  const { bucket, prefix, page } = listing;
  const [selected, setSelected] = useState(null);
  const [notice, setNotice] = useState(null);
  const [actionError, setActionError] = useState(null);

  const act = async (what) => {
    setActionError(null);
    try {
      await what();
    } catch (err) {
      if (!onError(err)) setActionError(err);
    }
  };
  const download = (key) =>
    act(async () => {
      // A presigned link: the browser streams the object to disk (no copy of it in the page).
      const a = document.createElement("a");
      a.href = await api.downloadUrl(bucket, key);
      a.download = key.split("/").pop() || "download";
      document.body.append(a);
      a.click();
      a.remove();
    });
  const remove = (key) =>
    act(async () => {
      const gone = await api.remove(bucket, key);
      if (selected === key) setSelected(null);
      setNotice({ text: `Deleted ${key}: in the trash until ${when(gone.purgeAt)}.`, undo: key });
      page.reload();
    });
  const undo = (key) =>
    act(async () => {
      await api.undelete(bucket, key);
      setNotice({ text: `Restored ${key}.` });
      page.reload();
    });

  const objects = page.data?.objects ?? [];
  return html`<section class="objects">
    <${ListingToolbar} listing=${listing} label="List objects" />
    <${Uploader}
      api=${api}
      bucket=${bucket}
      prefix=${prefix}
      onError=${onError}
      onUploaded=${(text) => {
        setNotice({ text });
        page.reload();
      }}
    />
    ${
      notice
        ? html`<p class="notice" role="status">
            ${notice.text} ${notice.undo ? html`<button class="link" onClick=${() => undo(notice.undo)}>Undo</button>` : null}
          </p>`
        : null
    }
    <${ErrorBox} error=${actionError ?? page.error} />
    <table data-testid="objects">
      <${Head} columns=${["key", "#size", "tier", "uploaded", ""]} />
      <tbody>
        ${objects.map(
          (o) =>
            html`<tr data-key=${o.key}>
              <td><button class="link" onClick=${() => setSelected(o.key)}>${o.key}</button></td>
              <td class="num">${bytes(o.size)}</td>
              <td>${o.tier}</td>
              <td title=${when(o.lastModified)}>${relative(o.lastModified)}</td>
              <td class="actions">
                <button onClick=${() => download(o.key)}>Download</button>
                <button onClick=${() => remove(o.key)}>Delete</button>
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${page.data && !objects.length ? html`<p class="muted">No objects${prefix ? ` under “${prefix}”` : ""} in ${bucket}.</p>` : null}
    <${Pager} listing=${listing} />
    ${
      selected
        ? html`<${Details} api=${api} bucket=${bucket} objectKey=${selected} onError=${onError} onClose=${() => setSelected(null)} />`
        : null
    }
  </section>`;
}
