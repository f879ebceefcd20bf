// The cluster at a glance, from /status and /status/upcoming (an operator's calls) and /healthz,
// refreshed every 5 s.
import { bytes, count, duration, relative, when } from "./format.js";
import { Badge, ErrorBox, Head, html, usePoll } from "./ui.js";

const REFRESH_MS = 5000;

function Health({ health }) {
  if (!health) return null;
  const ok = health.status === "ok";
  return html`<p class=${ok ? "ok" : "error"} data-testid="health">
    ${ok ? "Serving" : "Not serving"}: ${health.liveStorageNodes ?? "?"} storage nodes live, write quorum ${health.writeQuorum ?? "?"}
    ${health.message ? ` (${health.message})` : ""}
  </p>`;
}

function Tiers({ tiers }) {
  const total = tiers.reduce((t, x) => ({ objects: t.objects + x.objects, bytes: t.bytes + x.bytes }), { objects: 0, bytes: 0 });
  return html`<section>
    <h2>Objects per tier</h2>
    <div class="cards">
      ${tiers.map(
        (t) =>
          html`<div class="card" data-testid=${`tier-${t.tier}`}>
            <span class="label">${t.tier}</span>
            <span class="figure">${count(t.objects)}</span>
            <span>${bytes(t.bytes)}</span>
          </div>`,
      )}
      <div class="card">
        <span class="label">all versions</span><span class="figure">${count(total.objects)}</span><span>${bytes(total.bytes)}</span>
      </div>
    </div>
  </section>`;
}

function Nodes({ nodes }) {
  return html`<section>
    <h2>Nodes</h2>
    <table data-testid="nodes">
      <${Head} columns=${["id", "kind", "state", "zone", "address", "metrics", "#blobs", "#used", "#free", "last heartbeat", "notes"]} />
      <tbody>
        ${nodes.map(
          (n) =>
            html`<tr>
              <td>${n.id}</td>
              <td>${n.kind}</td>
              <td><${Badge} state=${n.state} />${n.live ? "" : html` <span class="muted">not routed to</span>`}</td>
              <td>${n.zone}</td>
              <td><code>${n.address}</code></td>
              <td><${MetricsPort} port=${n.metricsPort} /></td>
              <td class="num">${count(n.blobCount)}</td>
              <td class="num">${bytes(n.usedBytes)}</td>
              <td class="num" title=${n.freeBytes === null ? "unknown: this node's MariaDB runs on another host" : ""}>
                ${n.freeBytes === null ? "unknown" : bytes(n.freeBytes)}
              </td>
              <td>${duration(n.silentForMs)} ago</td>
              <td>
                ${n.versionsLeft !== undefined ? `${count(n.versionsLeft)} versions left to drain ` : ""}
                ${n.unreadableRecords ? html`<span class="error-text">${count(n.unreadableRecords)} damaged records</span>` : ""}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

/** A process's Prometheus port (on its address's host), or "off". */
const MetricsPort = ({ port }) => (port ? html`<code>:${port}</code>` : html`<span class="muted">off</span>`);

/**
 * The placement ring: every storage node not being removed is on it (160 points each, so each
 * holds about the same share of keys); a key's copies go to the first live nodes of its
 * preference list. The bar shows how the stored blobs actually spread.
 */
function Ring({ nodes }) {
  const members = nodes
    .filter((n) => n.kind === "storage" && n.state !== "draining" && n.state !== "removed")
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const leaving = nodes.filter((n) => n.kind === "storage" && n.state === "draining");
  const blobs = members.reduce((t, n) => t + n.blobCount, 0);
  return html`<section>
    <h2>Ring</h2>
    <p class="hint">
      ${members.length} storage nodes on the ring, each with the same number of points; ${members.filter((n) => n.live).length} of them
      routed to now. ${leaving.length ? `Leaving (draining): ${leaving.map((n) => n.id).join(", ")}.` : ""}
    </p>
    <div class="ring" data-testid="ring" aria-label="share of stored blobs per storage node">
      ${members.map(
        (n) =>
          html`<div
            class=${`ring-part badge-${n.state}`}
            style=${{ flexGrow: blobs ? Math.max(n.blobCount, blobs / 100) : 1 }}
            title=${`${n.id}: ${count(n.blobCount)} blobs`}
          >
            ${n.id} · ${blobs ? `${Math.round((100 * n.blobCount) / blobs)} %` : "empty"}
          </div>`,
      )}
    </div>
  </section>`;
}

function Lifecycle({ status, upcoming }) {
  const transitions = status.transitions ?? [];
  return html`<section>
    <h2>Lifecycle</h2>
    ${status.queuesError ? html`<p class="error" role="alert">Queues unavailable: ${status.queuesError}</p>` : null}
    <table data-testid="queues">
      <${Head} columns=${["queue", "#waiting", "#delayed (upcoming)", "#active", "#failed"]} />
      <tbody>
        ${status.queues.map(
          (q) =>
            html`<tr>
              <td>${q.name}</td>
              <td class="num">${count(q.waiting)}</td>
              <td class="num">${count(q.delayed)}</td>
              <td class="num">${count(q.active)}</td>
              <td class=${`num ${q.failed ? "error-text" : ""}`}>${count(q.failed)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${
      transitions.length
        ? html`<h3>Transitions made by this coordinator since it started</h3>
            <table data-testid="transitions">
              <${Head} columns=${["kind", "#moved", "#in flight", "#backing off", "#failed", "#late p50", "#late p99", "#late max"]} />
              <tbody>
                ${transitions.map(
                  (t) =>
                    html`<tr>
                      <td>${t.kind}</td>
                      <td class="num">${count(t.moved)}</td>
                      <td class="num">${count(t.inFlight)}</td>
                      <td class="num">${count(t.backingOff)}</td>
                      <td class="num">${count(t.failed)}</td>
                      <td class="num">${duration(t.latenessMs.p50)}</td>
                      <td class="num">${duration(t.latenessMs.p99)}</td>
                      <td class="num">${duration(t.latenessMs.max)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
        : null
    }
    <${Upcoming} upcoming=${upcoming} />
    <${Repair} status=${status} />
  </section>`;
}

/**
 * The next transitions due cluster-wide, soonest first (/status/upcoming): demotions to cold, trash
 * moves (due at the delete, so shown overdue until moved) and purges. `upcoming` is the answer, or
 * { error } when that call failed (the rest of the dashboard still shows).
 */
function Upcoming({ upcoming }) {
  if (upcoming.error)
    return html`<h3>Upcoming transitions</h3>
      <${ErrorBox} error=${upcoming.error} />`;
  const list = upcoming.upcoming;
  return html`<h3>Upcoming transitions</h3>
    ${
      list.length
        ? html`<table data-testid="upcoming">
            <${Head} columns=${["due", "transition", "bucket", "key", "version", "tier", "#size"]} />
            <tbody>
              ${list.map(
                (u) =>
                  html`<tr data-key=${u.key} data-due=${u.due}>
                    <td title=${when(u.due)} class=${Date.parse(u.due) < Date.now() ? "muted" : ""}>${relative(u.due)}</td>
                    <td>${u.transition}</td>
                    <td>${u.bucket}</td>
                    <td>${u.key}</td>
                    <td><code>${u.versionId}</code></td>
                    <td>${u.tier}</td>
                    <td class="num">${bytes(u.size)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : html`<p class="hint" data-testid="upcoming">Nothing is due: no hot object, nothing in the trash.</p>`
    }`;
}

function Repair({ status }) {
  const { repair, rehome, scrub } = status;
  return html`<dl class="facts">
    ${
      repair
        ? html`<dt>Repair</dt>
            <dd>
              ${repair.versionsLeft ? `${count(repair.versionsLeft)} versions (${bytes(repair.bytesLeft)}) to copy, done in ${duration((repair.etaSeconds ?? NaN) * 1000)}` : "nothing to repair"}
              ${repair.lostNodes.length ? `; lost nodes: ${repair.lostNodes.join(", ")}` : ""}
            </dd>`
        : null
    }
    ${
      rehome
        ? html`<dt>Rehome</dt>
            <dd>
              ${rehome.awayFromHome === null ? "first pass not done yet" : `${count(rehome.awayFromHome)} away from home, ${count(rehome.underReplicated)} under-replicated`}
            </dd>`
        : null
    }
    <dt>Scrub</dt>
    <dd>
      ${scrub.rateBytesPerSecond ? `${Math.round(scrub.pass.progress * 100)} % of this pass, ${count(scrub.passes)} passes done` : "off"}
      ${scrub.totals.corrupt || scrub.totals.missing ? html`; <span class="error-text">${count(scrub.totals.corrupt)} corrupt, ${count(scrub.totals.missing)} missing found</span>` : ""}
    </dd>
  </dl>`;
}

function Coordinators({ status }) {
  return html`<section>
    <h2>Coordinators</h2>
    <table data-testid="coordinators">
      <${Head} columns=${["id", "state", "pid", "metrics", "last beat"]} />
      <tbody>
        ${status.coordinators.map(
          (c) =>
            html`<tr>
              <td>${c.id}${c.self ? html` <span class="muted">(answering)</span>` : ""}</td>
              <td><${Badge} state=${c.state} /></td>
              <td>${c.pid ?? "—"}</td>
              <td><${MetricsPort} port=${c.metricsPort} /></td>
              <td>${duration(c.silentForMs)} ago</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <p class="hint">Read cache ${status.readCache.enabled ? `on (${count(status.readCache.rows)} rows)` : "off"}.</p>
  </section>`;
}

export function Dashboard({ api, onError }) {
  const { data, error } = usePoll(
    () => Promise.all([api.status(), api.health().catch(() => undefined), api.upcoming().catch((e) => ({ error: e }))]),
    REFRESH_MS,
    [api],
    onError,
  );
  if (error?.status === 403) {
    return html`<p class="error" role="alert">
      The dashboard is an operator's view: it needs a key allowed every bucket. This key can still use the
      <a href="#/objects">object browser</a>.
    </p>`;
  }
  if (!data) return html`${error ? html`<${ErrorBox} error=${error} />` : html`<p class="muted">Loading…</p>`}`;
  const [status, health, upcoming] = data;
  return html`<div class="dashboard" data-testid="dashboard">
    <${ErrorBox} error=${error} />
    <${Health} health=${health} />
    <${Tiers} tiers=${status.tiers} />
    <${Nodes} nodes=${status.nodes} />
    <${Ring} nodes=${status.nodes} />
    <${Lifecycle} status=${status} upcoming=${upcoming} />
    <${Coordinators} status=${status} />
  </div>`;
}
