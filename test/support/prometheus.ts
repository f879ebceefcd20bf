// Scraping a process's /metrics in tests (the parser: services/common/metrics/exposition.ts).
import { parseExposition, type Sample } from "../../services/common/metrics/exposition";

export { total, type Sample } from "../../services/common/metrics/exposition";

/** GET <url>/metrics, parsed; fails unless it answers 200 in the exposition format. */
export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url}/metrics answered ${res.status}: ${text.slice(0, 300)}`);
  if (!res.headers.get("content-type")?.startsWith("text/plain"))
    throw new Error(`${url}/metrics: content-type ${res.headers.get("content-type")}`);
  return parseExposition(text);
}
