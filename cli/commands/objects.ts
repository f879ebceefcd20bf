// put, get, rm, undelete, stat: one object each, through the facade. Bytes stream both ways with
// bounded memory: a file is read twice (its sha256 first, signed, so the facade commits nothing
// that differs from it), a download is hashed as it is written and checked against the sha256
// the facade sends, and only then renamed into place.
import { createReadStream, createWriteStream } from "node:fs";
import { rename, stat, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CliError, EXIT } from "../exit-codes";
import { contentTypeOf, OCTET_STREAM } from "../content-type";
import { formatRate, formatSize, formatSpan, timeAndRelative } from "../format";
import { Progress } from "../progress";
import type { CommandContext, ObjectRef } from "./context";

interface Uploaded {
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  etag: string;
  versionId: string;
}

/** The facade's /stat and /undelete answer (its objectJson), with /stat's next transition when the server has it. */
export interface ObjectInfo extends Uploaded {
  contentType: string;
  tier: string;
  createdAt: string;
  lastAccessedAt: string;
  replicas: string[];
  metadata: Record<string, string>;
  next?: { transition: string; due: string } | null;
}

const short = (sha256: string) => `${sha256.slice(0, 12)}…`;
/** The rate of a transfer worth one: small ones are all latency. */
const rate = (bytes: number, ms: number) => (bytes >= 1024 * 1024 ? ` (${formatRate(bytes, ms)})` : "");

function localError(path: string, e: unknown): CliError {
  return new CliError(EXIT.usage, `${path}: ${(e as Error).message}`);
}

export interface PutOptions {
  contentType?: string;
  meta?: string[];
}

function metadataOf(pairs: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(EXIT.usage, `--meta takes name=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** `put <file|-> [key]`: a file (key: its name) or stdin (key required). */
export async function put(ctx: CommandContext, source: string, key: string | undefined, bucket: string, o: PutOptions): Promise<void> {
  const fromStdin = source === "-";
  if (fromStdin && !key) throw new CliError(EXIT.usage, "put - (stdin) needs the key to store it under: minis3 put - KEY");
  const target: ObjectRef = { bucket, key: key || basename(source) };
  const metadata = metadataOf(o.meta);
  const contentType = o.contentType ?? (fromStdin ? OCTET_STREAM : contentTypeOf(source));
  let length: number | undefined;
  let sha256: string | undefined;
  if (!fromStdin) {
    let info;
    try {
      info = await stat(source);
    } catch (e) {
      throw localError(source, e);
    }
    if (!info.isFile()) throw new CliError(EXIT.usage, `${source} is not a regular file`);
    length = info.size;
    // Hashed first and signed: the facade checks the body against it as it streams and commits
    // nothing else (a file changed mid-upload fails with BadDigest instead of storing a mix).
    sha256 = await hashFile(source, new Progress(`hash ${target.key}`, length, ctx.progress));
  }
  const progress = new Progress(`put ${target.key}`, length, ctx.progress);
  // Stdin cannot be read twice: its bytes are hashed on the way and compared with the cluster's answer.
  const meter = progress.meter({ hash: fromStdin });
  const input = fromStdin ? process.stdin : createReadStream(source);
  const sent = pipeline(input, meter).catch((e: unknown) => e as Error);
  const startedAt = Date.now();
  let res: Uploaded;
  try {
    res = await ctx.client.upload<Uploaded>({ key: target.key, bucket: target.bucket }, meter, { contentType, length, sha256, metadata });
  } catch (e) {
    meter.destroy(); // the facade refused it: stop reading the source
    throw e;
  } finally {
    progress.stop();
  }
  const readError = await sent;
  if (readError) throw localError(source, readError);
  const ms = Date.now() - startedAt;
  const ours = sha256 ?? meter.sha256();
  if (res.sha256 !== ours || (length !== undefined && res.size !== length)) {
    throw new CliError(
      EXIT.integrity,
      `the cluster stored ${res.size} bytes with sha256 ${res.sha256} as version ${res.versionId}, but ${meter.bytes} bytes with sha256 ${ours} were sent`,
    );
  }
  if (ctx.json) return ctx.printJson(res);
  ctx.print(
    `uploaded ${fromStdin ? "stdin" : source} to ${res.bucket}/${res.key}: ${formatSize(res.size)}, sha256 ${short(res.sha256)}, ` +
      `in ${formatSpan(ms)}${rate(res.size, ms)}`,
  );
}

async function hashFile(path: string, progress: Progress): Promise<string> {
  const meter = progress.meter({ hash: true });
  const discard = new Writable({ write: (_chunk, _enc, done) => done() });
  try {
    await pipeline(createReadStream(path), meter, discard);
  } catch (e) {
    throw localError(path, e);
  } finally {
    progress.stop();
  }
  return meter.sha256();
}

/** `get <key> [dest|-]`: to a file (default: the key's last part, in the current directory) or stdout. */
export async function get(ctx: CommandContext, ref: ObjectRef, dest: string | undefined): Promise<void> {
  const toStdout = dest === "-";
  if (toStdout && ctx.json) throw new CliError(EXIT.usage, "--json and - cannot share stdout: give a file to write the object to");
  let path = dest ?? basename(ref.key);
  if (!toStdout) {
    if (!path) throw new CliError(EXIT.usage, `the key "${ref.key}" ends with "/": name the file to write: minis3 get KEY FILE`);
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) path = join(path, basename(ref.key));
  }
  const startedAt = Date.now();
  const got = await ctx.client.download({ key: ref.key, bucket: ref.bucket });
  const header = (name: string) => {
    const v = got.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const size = Number(header("content-length"));
  const expected = header("x-minis3-sha256");
  const progress = new Progress(`get ${ref.key}`, Number.isFinite(size) ? size : undefined, ctx.progress && !toStdout);
  const meter = progress.meter({ hash: true });
  // Written beside the destination and renamed once checked: a failed or cut download leaves no
  // half file under the real name, and an existing file is replaced whole or not at all.
  const partial = toStdout ? undefined : join(dirname(path), `.${basename(path)}.minis3-${randomBytes(4).toString("hex")}.part`);
  const onSignal = () => {
    if (partial) void unlink(partial).finally(() => process.exit(130));
    else process.exit(130);
  };
  process.once("SIGINT", onSignal);
  try {
    try {
      await pipeline(got.body, meter, toStdout ? process.stdout : createWriteStream(partial!, { flags: "wx" }));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.syscall) throw localError(partial ?? "stdout", e);
      throw new CliError(EXIT.unavailable, `download of ${ref.bucket}/${ref.key} broke off after ${meter.bytes} bytes: ${err.message}`);
    }
    const sha256 = meter.sha256();
    if ((Number.isFinite(size) && meter.bytes !== size) || (expected && sha256 !== expected)) {
      throw new CliError(
        EXIT.integrity,
        `${ref.bucket}/${ref.key}: received ${meter.bytes} bytes with sha256 ${sha256}; the cluster said ${size} bytes with sha256 ${expected}` +
          (toStdout ? " (what reached stdout is wrong)" : " (nothing written)"),
      );
    }
    if (partial) await rename(partial, path).catch((e: unknown) => Promise.reject(localError(path, e)));
    const ms = Date.now() - startedAt;
    const result = {
      bucket: ref.bucket,
      key: ref.key,
      versionId: header("x-minis3-version-id"),
      size: meter.bytes,
      sha256,
      tier: header("x-minis3-tier"),
      file: toStdout ? "-" : path,
    };
    if (ctx.json) return ctx.printJson(result);
    if (!toStdout) {
      ctx.print(
        `downloaded ${ref.bucket}/${ref.key} to ${path}: ${formatSize(meter.bytes)}, sha256 ${short(sha256)} checked, from ${result.tier}, ` +
          `in ${formatSpan(ms)}${rate(meter.bytes, ms)}`,
      );
    }
  } finally {
    progress.stop();
    process.removeListener("SIGINT", onSignal);
    if (partial) await unlink(partial).catch(() => undefined);
  }
}

/** `rm <key>`: the object leaves the listing at once; its bytes go to the trash until purged. */
export async function rm(ctx: CommandContext, ref: ObjectRef): Promise<void> {
  const res = await ctx.client.json<{ bucket: string; key: string; versionId: string; purgeAt: string }>("DELETE", "/delete", {
    key: ref.key,
    bucket: ref.bucket,
  });
  if (ctx.json) return ctx.printJson(res);
  ctx.print(
    `deleted ${res.bucket}/${res.key}; restorable until ${timeAndRelative(res.purgeAt)} with: minis3 undelete ${quoteArg(res.key)}`,
  );
}

/** `undelete <key>`: the newest trashed version of the key becomes the visible one again. */
export async function undelete(ctx: CommandContext, ref: ObjectRef): Promise<void> {
  const res = await ctx.client.json<ObjectInfo>("POST", "/undelete", { key: ref.key, bucket: ref.bucket });
  if (ctx.json) return ctx.printJson(res);
  ctx.print(`restored ${res.bucket}/${res.key}: ${formatSize(res.size)}, version ${res.versionId}, tier ${res.tier}`);
}

/** What /stat's next.transition means, for people. */
const TRANSITIONS: Record<string, string> = { demote: "demote to cold", purge: "purge from the trash" };

/** `stat <key>`: the object's metadata, where its copies are, and its next lifecycle transition when the server says. */
export async function statObject(ctx: CommandContext, ref: ObjectRef, versionId?: string): Promise<void> {
  const o = await ctx.client.json<ObjectInfo>("GET", "/stat", { key: ref.key, bucket: ref.bucket, versionId });
  if (ctx.json) return ctx.printJson(o);
  const rows: [string, string][] = [
    ["key", o.key],
    ["bucket", o.bucket],
    ["size", `${formatSize(o.size)} (${o.size} bytes)`],
    ["content type", o.contentType],
    ["sha256", o.sha256],
    ["etag", o.etag],
    ["version", o.versionId],
    ["tier", o.tier],
    ["replicas", o.replicas.length ? o.replicas.join(", ") : "-"],
    ["created", timeAndRelative(o.createdAt)],
    ["last read", timeAndRelative(o.lastAccessedAt)],
  ];
  const meta = Object.entries(o.metadata ?? {});
  if (meta.length) rows.push(["metadata", meta.map(([k, v]) => `${k}=${v}`).join(", ")]);
  if (o.next) rows.push(["next", `${TRANSITIONS[o.next.transition] ?? o.next.transition}, due ${timeAndRelative(o.next.due)}`]);
  else if (o.next === null) rows.push(["next", o.tier === "cold" ? "none (back to hot when read)" : "none scheduled"]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  for (const [k, v] of rows) ctx.print(`${`${k}:`.padEnd(width)} ${v}`);
}

/** A key as the user would type it back in a shell. */
function quoteArg(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
