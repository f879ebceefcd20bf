// ls and trash: every page of /objects or /trash in turn (the facade's cursor), printed as it
// comes, so a listing of any length takes one page of memory. --json streams one document.
import { formatSize, formatTime, relativeTime } from "../format";
import type { CommandContext } from "./context";

/** The facade's largest page. */
const PAGE = 1000;

interface Listed {
  key: string;
  size: number;
  etag: string;
  sha256: string;
  tier: string;
  lastModified: string;
}

interface TrashEntry {
  key: string;
  versionId: string;
  size: number;
  deletedAt: string;
  purgeAt: string;
  reason: string;
}

export interface ListOptions {
  /** Stop after this many entries (default: all). */
  max?: number;
}

/**
 * Walks the pages of a listing route, handing each item to `each`; with --json, writes
 * {"bucket", "prefix", "<field>": [...]} item by item. Returns how many items and bytes.
 */
async function walk<T extends { size: number }>(
  ctx: CommandContext,
  route: string,
  field: string,
  bucket: string,
  prefix: string,
  max: number | undefined,
  each: (item: T) => void,
): Promise<{ count: number; bytes: number }> {
  let cursor: string | undefined;
  let count = 0;
  let bytes = 0;
  if (ctx.json) process.stdout.write(`{"bucket":${JSON.stringify(bucket)},"prefix":${JSON.stringify(prefix)},"${field}":[`);
  do {
    const limit = max === undefined ? PAGE : Math.min(PAGE, max - count);
    const page = await ctx.client.json<Record<string, unknown> & { nextCursor?: string | null }>("GET", route, {
      bucket,
      prefix: prefix || undefined,
      limit: String(limit),
      cursor,
    });
    for (const item of page[field] as T[]) {
      if (ctx.json) process.stdout.write(`${count ? "," : ""}\n${JSON.stringify(item)}`);
      else each(item);
      count++;
      bytes += item.size;
    }
    cursor = page.nextCursor || undefined;
  } while (cursor && (max === undefined || count < max));
  if (ctx.json) process.stdout.write(`${count ? "\n" : ""}]}\n`);
  return { count, bytes };
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/** `ls [prefix]`: modified time, size, tier and key of every visible object under the prefix. */
export async function ls(ctx: CommandContext, bucket: string, prefix: string, o: ListOptions): Promise<void> {
  const { count, bytes } = await walk<Listed>(ctx, "/objects", "objects", bucket, prefix, o.max, (item) =>
    ctx.print(`${formatTime(item.lastModified)}  ${formatSize(item.size).padStart(10)}  ${item.tier.padEnd(5)}  ${item.key}`),
  );
  if (!ctx.json)
    ctx.print(`${plural(count, "object")}, ${formatSize(bytes)}${o.max !== undefined && count >= o.max ? " (--max reached)" : ""}`);
}

/** `trash [prefix]`: what can be undeleted, and when each will be purged. */
export async function trash(ctx: CommandContext, bucket: string, prefix: string, o: ListOptions): Promise<void> {
  const now = Date.now();
  const { count, bytes } = await walk<TrashEntry>(ctx, "/trash", "entries", bucket, prefix, o.max, (e) =>
    ctx.print(
      `${formatTime(e.deletedAt)}  ${formatSize(e.size).padStart(10)}  ${`purge ${relativeTime(new Date(e.purgeAt).getTime(), now)}`.padEnd(26)}  ` +
        `${e.key}  (${e.reason}, version ${e.versionId})`,
    ),
  );
  if (!ctx.json) ctx.print(`${plural(count, "version")} in the trash, ${formatSize(bytes)}`);
}
