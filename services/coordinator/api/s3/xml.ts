// S3's XML bodies, both ways, with fast-xml-parser (never string concatenation for user data: the
// builder escapes every text). Parsing: entities off (no expansion attacks, no DOCTYPE tricks) and
// the body capped before a byte is parsed.
import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { type S3ErrorResponse, s3Errors } from "./s3-errors";

export const S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";
/** The largest XML body a request may send: DeleteObjects of 1000 keys of 1024 bytes fits in ~1.1 MiB. */
export const MAX_XML_BODY = 2 * 1024 * 1024;

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  suppressEmptyNode: false,
  processEntities: true, // escape &, <, > and quotes in every value
  format: false,
});

const parser = new XMLParser({
  ignoreAttributes: true,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false, // keys like "007" or "true" stay strings
  trimValues: false,
  removeNSPrefix: true,
});

/** An XML document from a plain object: `{Root: {"@_xmlns": …, Child: "text", List: [{…}, {…}]}}`. */
export function buildXml(doc: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(doc) as string}`;
}

/** Adds S3's namespace to a response's root element. */
export function s3Document(root: string, content: Record<string, unknown>): string {
  return buildXml({ [root]: { "@_xmlns": S3_XMLNS, ...content } });
}

/** Reads a whole request body of at most `limit` bytes (MalformedXML beyond: no XML body is that big). */
export async function readXmlBody(body: AsyncIterable<Buffer>, limit = MAX_XML_BODY): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw s3Errors.malformedXml(`the body is larger than ${limit} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString("utf8");
}

const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/**
 * The text of an element with XML's five predefined entities and character references decoded.
 * The parser runs with entity processing off (so no DOCTYPE can define one), which leaves these
 * as written: a key "a&b" arrives as "a&amp;b".
 */
export function xmlText(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw s3Errors.malformedXml("expected text, found an element");
  return v.replace(/&(lt|gt|amp|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (_m, e: string) => {
    if (e[0] !== "#") return PREDEFINED[e];
    const cp = e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    if (cp > 0x10ffff) throw s3Errors.malformedXml(`&${e}; is not a character`);
    return String.fromCodePoint(cp);
  });
}

/** Parses an XML body; MalformedXML when it is not XML, has a DOCTYPE, or has no `root` element. */
export function parseXml(text: string, root: string): Record<string, unknown> {
  if (/<!DOCTYPE/i.test(text)) throw s3Errors.malformedXml("a DOCTYPE is not allowed");
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text, true) as Record<string, unknown>;
  } catch (e) {
    throw s3Errors.malformedXml((e as Error).message);
  }
  const top = doc[root];
  if (top === undefined || top === null || typeof top !== "object") {
    if (top === "") return {};
    throw s3Errors.malformedXml(`expected a <${root}> element`);
  }
  return top as Record<string, unknown>;
}

/** An element that may appear once or many times, as a list. */
export function asList<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** `<Error><Code/><Message/><Resource/><RequestId/></Error>`, as S3 sends it. */
export function errorXml(error: S3ErrorResponse, resource: string, requestId: string): string {
  return buildXml({ Error: { Code: error.code, Message: error.message, Resource: resource, RequestId: requestId } });
}
