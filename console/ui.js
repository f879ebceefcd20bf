// What every page of the console shares: htm bound to Preact, polling, and error display.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);

/**
 * Calls `load` now, whenever `deps` change, on `reload()`, and every `everyMs` while the page is
 * shown (a tick is skipped while a call is still out). The latest call's answer wins. Returns
 * { data, error, reload }; a failure goes to `onError` first (true: handled, e.g. signed out).
 */
export function usePoll(load, everyMs, deps, onError) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const latest = useRef(0);
  const inFlight = useRef(0);
  const run = async () => {
    const mine = ++latest.current;
    inFlight.current++;
    try {
      const data = await load();
      if (mine === latest.current) setState({ data, error: undefined });
    } catch (e) {
      if (mine === latest.current && !onError(e)) setState((s) => ({ data: s.data, error: e }));
    } finally {
      inFlight.current--;
    }
  };
  useEffect(() => {
    run();
    if (!everyMs) return undefined;
    const t = setInterval(() => inFlight.current || run(), everyMs);
    return () => clearInterval(t);
  }, deps);
  return { ...state, reload: run };
}

/** A failed call, said plainly: what the server answered, with its code. */
export function ErrorBox({ error }) {
  if (!error) return null;
  const code = error.code && error.status ? html`<code>${error.status} ${error.code}</code> ` : null;
  return html`<p class="error" role="alert">${code}${error.message}</p>`;
}

/** A state word in colour: up, down, suspected, draining, removed, stopped… */
export const Badge = ({ state }) => html`<span class=${`badge badge-${state}`}>${state}</span>`;

/** A table's header row; a column named "#name" holds numbers (right-aligned). */
export const Head = ({ columns }) =>
  html`<thead>
    <tr>
      ${columns.map((c) => (c.startsWith("#") ? html`<th class="num">${c.slice(1)}</th>` : html`<th>${c}</th>`))}
    </tr>
  </thead>`;
