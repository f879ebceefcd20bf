// The web console (README "Web console"): static files under /console on the facade's port, served
// without credentials because they hold no data; every data call the page makes is signed in the
// browser (console/signing.js) and checked by http-credentials.ts like any other. The files are
// served from the repository's console/ folder as written (no build step), and Preact and htm as
// their own ESM files from node_modules, which the page's import map names.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";
import fastifyStatic from "@fastify/static";
import type { Logger } from "../../common/logger";
import { repoRoot } from "../../common/repo-root";

export const CONSOLE_PATH = "/console";

/** True for the console's own files: open to anyone (the data calls they make are signed). */
export function isConsolePath(path: string): boolean {
  return path === CONSOLE_PATH || path.startsWith(`${CONSOLE_PATH}/`);
}

/** The folder a package's files are served from: its package root, found from its main entry. */
function packageDir(name: string): string {
  // preact's and htm's entries are dist/<file>: the package root is two levels up.
  return dirname(dirname(require.resolve(name)));
}

/**
 * The page's Content-Security-Policy: scripts only from this origin plus the one inline script, the
 * import map (by its hash), so an object key or error text that ever reached the DOM as markup could
 * not run. The secret key sits in sessionStorage, which any script on the page could read.
 */
function contentSecurityPolicy(indexHtml: string): string {
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(indexHtml)?.[1];
  const hash = importMap === undefined ? "" : ` 'sha256-${createHash("sha256").update(importMap).digest("base64")}'`;
  return [
    "default-src 'self'",
    `script-src 'self'${hash}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** Serves the console under /console, or answers there with what is missing when its files are not installed. */
export function serveConsole(app: FastifyInstance, logger?: Logger): void {
  const dir = join(repoRoot(__dirname), "console");
  const index = join(dir, "index.html");
  if (!existsSync(index)) {
    logger?.warn({ dir }, "web console files not found: /console answers 404");
    return;
  }
  const csp = contentSecurityPolicy(readFileSync(index, "utf8"));
  const guard = (reply: FastifyReply) => {
    reply.header("content-security-policy", csp);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
  };
  // `/console` redirects to `/console/`, whose index is the page; files revalidate by etag (max-age 0).
  app.register(fastifyStatic, {
    root: dir,
    // Given without its slash, so the plugin adds the /console → /console/ redirect.
    prefix: CONSOLE_PATH,
    redirect: true,
    index: "index.html",
    setHeaders: guard,
  });
  for (const pkg of ["preact", "htm"]) {
    app.register(fastifyStatic, {
      root: packageDir(pkg),
      prefix: `${CONSOLE_PATH}/vendor/${pkg}/`,
      decorateReply: false,
      index: false,
      // Only the packages' scripts: nothing else under node_modules is the page's business.
      allowedPath: (path) => /\.m?js$/.test(path),
      setHeaders: (reply) => reply.header("x-content-type-options", "nosniff"),
    });
  }
}
