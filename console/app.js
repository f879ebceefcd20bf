// The console's shell: sign-in, navigation between the dashboard, the object browser and the trash.
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { Api, ApiError, explain, savedKeys, saveKeys } from "./api.js";
import { Dashboard } from "./dashboard.js";
import { Objects } from "./objects.js";
import { Trash } from "./trash.js";
import { html } from "./ui.js";

const PAGES = [
  { route: "dashboard", title: "Dashboard", Page: Dashboard },
  { route: "objects", title: "Objects", Page: Objects },
  { route: "trash", title: "Trash", Page: Trash },
];

const routeOf = () => location.hash.replace(/^#\/?/, "") || "dashboard";

function SignIn({ notice, onSignedIn }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(notice);
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const keys = { accessKey: String(form.get("accessKey")).trim(), secretKey: String(form.get("secretKey")) };
    setBusy(true);
    setError("");
    try {
      // Any answer but 401 means the cluster knows the key pair (403: a key limited to some buckets).
      await new Api(keys).status();
      onSignedIn(keys);
    } catch (err) {
      if (err instanceof ApiError && !err.signedOut) onSignedIn(keys);
      else setError(err instanceof ApiError ? explain(err) : `Cannot reach the coordinator: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="signin" onSubmit=${submit} aria-label="Sign in">
      <h1>MiniS3 console</h1>
      <p class="hint">
        The key pair <code>npm start</code> printed (also in <code>data/credentials.json</code>). The secret stays in this tab: it signs
        each call and is never sent.
      </p>
      <label>Access key <input name="accessKey" autocomplete="username" required autofocus /></label>
      <label>Secret key <input name="secretKey" type="password" autocomplete="current-password" required /></label>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <button type="submit" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
    </form>
  `;
}

function App() {
  const [keys, setKeys] = useState(savedKeys);
  const [notice, setNotice] = useState("");
  const [route, setRoute] = useState(routeOf);
  useEffect(() => {
    const follow = () => setRoute(routeOf());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  const api = useMemo(() => (keys ? new Api(keys) : null), [keys]);

  const signOut = (message = "") => {
    saveKeys(null);
    setKeys(null);
    setNotice(message);
  };
  /** Pages hand every failure here first: a refused key pair signs out (true), the rest they show. */
  const onError = (e) => {
    if (e instanceof ApiError && e.signedOut) {
      signOut(`Signed out: ${explain(e)}`);
      return true;
    }
    return false;
  };

  if (!api) {
    return html`<${SignIn}
      notice=${notice}
      onSignedIn=${(k) => {
        saveKeys(k);
        setNotice("");
        setKeys(k);
      }}
    />`;
  }
  const page = PAGES.find((p) => p.route === route.split("?")[0]) ?? PAGES[0];
  return html`
    <header>
      <strong>MiniS3</strong>
      <nav>${PAGES.map((p) => html`<a href=${`#/${p.route}`} aria-current=${p === page ? "page" : undefined}>${p.title}</a>`)}</nav>
      <span class="who">${keys.accessKey} <button class="link" onClick=${() => signOut()}>Sign out</button></span>
    </header>
    <main>
      <${page.Page} api=${api} onError=${onError} />
    </main>
  `;
}

render(html`<${App} />`, document.getElementById("app"));
