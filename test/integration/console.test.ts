// The web console end to end (issue 15 item 6): a real cluster, Debian's Chromium driven headless by
// playwright-core. A user signs in (a wrong secret is refused on the page), uploads a file through
// the page, sees it listed, downloads the same bytes, deletes it, finds it in the trash, undeletes
// it and sees it back; the dashboard shows the nodes and tiers and is saved as a screenshot under
// test/artifacts/. The secret key is never sent and is kept in sessionStorage only.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page, type Request } from "playwright-core";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { repoRoot } from "../../deploy/launcher/paths";

const CHROMIUM = process.env.MINIS3_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(repoRoot(__dirname), "test", "artifacts");
/** Each wait on the page: generous, the machine may be loaded (the page answers in well under a second when it is not). */
const UI_WAIT_MS = 60_000;

jest.setTimeout(300_000);

let cluster: TestCluster;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const requests: Request[] = [];
/** Requests the page sent that have neither finished nor failed yet. */
const pending = new Set<Request>();

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  // info: the coordinator's lines about each request, for the message of a wait that fails
  cluster = await startCluster({ env: { MINIS3_LOG_LEVEL: "info" } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--headless=new"], timeout: UI_WAIT_MS });
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(UI_WAIT_MS);
  page = await context.newPage();
  page.on("request", (r) => {
    requests.push(r);
    pending.add(r);
  });
  page.on("requestfinished", (r) => pending.delete(r));
  page.on("requestfailed", (r) => pending.delete(r));
});

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const row = (table: string, key: string) => page.getByTestId(table).locator(`tr[data-key="${key}"]`);

/** Waits for the page's notice saying `text`; an error shown instead fails at once, with it and the coordinator's last lines. */
async function notice(text: string): Promise<void> {
  const said = page.getByRole("status").filter({ hasText: text });
  const alert = page.getByRole("alert");
  try {
    await said.or(alert).first().waitFor();
  } catch (e) {
    // Neither came: say what the page and the coordinator were doing, so a hang can be told apart
    // from a slow machine (the upload's bar, requests the page sent without an answer).
    const bar = await page
      .getByTestId("upload-progress")
      .textContent({ timeout: 1_000 })
      .catch(() => "(no upload in progress)");
    const unanswered = [...pending].map((r) => `${r.method()} ${r.url()}`);
    throw new Error(
      `${(e as Error).message}\nupload bar: ${bar}\nrequests without an answer: ${unanswered.join(", ") || "none"}\n` +
        cluster.logs("coordinator", 60).join("\n"),
    );
  }
  if (await said.isVisible()) return;
  throw new Error(
    `the page said "${await alert.first().textContent()}" instead of "${text}"\n${cluster.logs("coordinator", 30).join("\n")}`,
  );
}

async function signIn(secretKey: string): Promise<void> {
  await page.getByLabel("Access key").fill(cluster.accessKey);
  await page.getByLabel("Secret key").fill(secretKey);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("a wrong secret is refused on the sign-in form; the right one opens the dashboard", async () => {
  await page.goto(`${cluster.httpUrl}/console`);
  await signIn("not-the-secret-0000000000000000000000000");
  await page.getByRole("alert").filter({ hasText: "The secret key does not match this access key." }).waitFor();
  await signIn(cluster.secretKey);
  // Every node of the cluster, up.
  const nodes = page.getByTestId("nodes");
  for (const id of ["storage-1", "storage-2", "storage-3", "backup-1", "delete-1"]) {
    await nodes.locator("tr", { hasText: id }).locator(".badge-up").waitFor();
  }
  await page.getByTestId("ring").getByText("storage-1").waitFor();
  await page.getByTestId("queues").waitFor();
});

test("what is typed in the listing's fields stays there while the listing refreshes", async () => {
  // A listing that answers after the user typed re-rendered the toolbar and put its fields back to
  // the last query's: the upload test's "e2e/" was lost on a loaded machine and the file went to
  // the bucket's root, so the page said "Uploaded console-e2e.bin".
  await page.getByRole("link", { name: "Objects" }).click();
  const prefix = page.getByLabel("Prefix");
  await prefix.fill("typed/");
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === "/objects");
  await page.getByRole("button", { name: "Refresh" }).click();
  await answered;
  // The answer's render: the table is drawn again (a frame later at most).
  await page.evaluate("new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)))");
  expect(await prefix.inputValue()).toBe("typed/");
  await prefix.fill("");
});

test("upload through the page, listed, downloaded byte for byte, deleted, undeleted from the trash, back in the list", async () => {
  const name = "console-e2e.bin";
  const bytes = randomBytes(3 * 1024 * 1024 + 123);
  await page.getByRole("link", { name: "Objects" }).click();
  await page.getByLabel("Prefix").fill("e2e/");
  await page.getByRole("button", { name: "List" }).click();

  // Slow the upload down (DevTools network throttling) so its progress bar can be seen moving.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024 });
  await page.locator('input[type="file"]').setInputFiles({ name, mimeType: "application/octet-stream", buffer: bytes });
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  // The bar part-way (the bar goes when the upload ends, so this is the check that it moved).
  // A function, not a string: the page's CSP (no 'unsafe-eval') refuses a string predicate.
  type ProgressDocument = { document: { querySelector(s: string): { value: number } | null } };
  await page.waitForFunction(
    () => {
      const bar = (globalThis as unknown as ProgressDocument).document.querySelector('[data-testid="upload-progress"] progress');
      return bar !== null && bar.value > 0 && bar.value < 100;
    },
    undefined,
    { timeout: UI_WAIT_MS },
  );
  // Seen: the rest at full speed (a loaded machine has nothing to gain from the throttle now).
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await notice(`Uploaded e2e/${name}`);

  const listed = row("objects", `e2e/${name}`);
  await listed.waitFor();
  expect(await listed.locator("td").nth(1).textContent()).toBe("3.0 MiB");

  const [download] = await Promise.all([page.waitForEvent("download"), listed.getByRole("button", { name: "Download" }).click()]);
  expect(download.suggestedFilename()).toBe(name);
  const got = await readFile(await download.path());
  expect(got.length).toBe(bytes.length);
  expect(sha256(got)).toBe(sha256(bytes));

  await listed.getByRole("button", { name: "Delete" }).click();
  await notice(`Deleted e2e/${name}`);
  await listed.waitFor({ state: "detached" });

  await page.getByRole("link", { name: "Trash" }).click();
  const trashed = row("trash", `e2e/${name}`);
  await trashed.waitFor();
  await trashed.getByRole("button", { name: "Undelete" }).click();
  await notice(`Restored e2e/${name}`);
  await trashed.waitFor({ state: "detached" });

  await page.getByRole("link", { name: "Objects" }).click();
  await row("objects", `e2e/${name}`).waitFor();
  // The object's details: its /stat, tier and copies.
  await row("objects", `e2e/${name}`)
    .getByRole("button", { name: `e2e/${name}` })
    .click();
  await page.getByTestId("details").getByText(bytes.length.toLocaleString("en-US"), { exact: false }).waitFor();
});

test("the dashboard counts the object and lists its demotion among the upcoming transitions; saved as test/artifacts/console-dashboard.png", async () => {
  await page.getByRole("link", { name: "Dashboard" }).click();
  // The tier card of hot objects shows the restored object once /status counts it (refreshed every 5 s).
  await page
    .getByTestId("tier-hot")
    .locator(".figure", { hasText: /^[1-9]/ })
    .waitFor();
  // Its demotion, one hot TTL (the default 30 min) after the undelete made it hot again.
  const upcoming = row("upcoming", "e2e/console-e2e.bin");
  await upcoming.waitFor();
  expect(await upcoming.locator("td").nth(1).textContent()).toBe("demote");
  expect(await upcoming.locator("td").first().textContent()).toMatch(/^in (29|30) min/);
  const due = Date.parse((await upcoming.getAttribute("data-due")) ?? "");
  expect(due).toBeGreaterThan(Date.now() + 25 * 60_000);
  expect(due).toBeLessThanOrEqual(Date.now() + 30 * 60_000);
  await mkdir(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, "console-dashboard.png");
  await page.screenshot({ path: file, fullPage: true });
  expect((await readFile(file)).subarray(1, 4).toString()).toBe("PNG");
});

test("the secret never left the page: not in any request, and kept in sessionStorage only", async () => {
  expect(requests.length).toBeGreaterThan(5);
  for (const r of requests) {
    const sent = [r.url(), JSON.stringify(await r.allHeaders()), r.postDataBuffer()?.toString("latin1") ?? ""].join("\n");
    expect(sent.includes(cluster.secretKey)).toBe(false);
  }
  const stored = await page.evaluate("({ local: localStorage.length, session: sessionStorage.length, cookies: document.cookie })");
  expect(stored).toEqual({ local: 0, session: 1, cookies: "" });
});

test("keys the cluster refuses later (401) send the page back to sign-in, saying why", async () => {
  const keys = JSON.stringify({ accessKey: cluster.accessKey, secretKey: "changed-since-0000000000000000" });
  await page.evaluate(`sessionStorage.setItem("minis3.console.keys", ${JSON.stringify(keys)})`);
  await page.reload();
  await page.getByRole("alert").filter({ hasText: "Signed out: The secret key does not match this access key." }).waitFor();
  await page.getByLabel("Secret key").waitFor();
  expect(await page.evaluate("sessionStorage.length")).toBe(0);
});
