// The facade's query strings, read the same way on both of its paths (fastify's routes and the object
// routes served before it, http-object-routes.ts): one parser, and one reading of the names it gives.
import type { IncomingMessage } from "node:http";
import { parse } from "fast-querystring";
import { InvalidArgumentError } from "../../common/errors";
import { checkKey } from "../objects/names";
import { callerOf } from "./http-credentials";

/** Names whose value was not valid percent-encoded UTF-8 (parseQuery): param() refuses them. */
const UNDECODABLE = Symbol("undecodable");

export type Query = Record<string, string | string[] | undefined> & { [UNDECODABLE]?: string[] };

/**
 * A query string (without its `?`) as fastify's router reads it: a name given twice is an array.
 * A value that is not valid percent-encoded UTF-8 is noted, for param() to refuse when it is read.
 */
export function parseQuery(text: string): Query {
  if (text.length === 0) return {};
  const query = parse(text) as Query;
  if (text.includes("%")) {
    const bad = undecodable(text);
    if (bad.length) query[UNDECODABLE] = bad;
  }
  return query;
}

/**
 * fast-querystring keeps a value it cannot decode as its raw text: `key=%FF` named the key "%FF",
 * the key a right client names `key=%25FF`, and an upload or delete acted on it (bad input must
 * change nothing). decodeURIComponent refuses what it could not: a broken escape, invalid UTF-8,
 * a lone surrogate's encoding.
 */
function undecodable(text: string): string[] {
  const names: string[] = [];
  for (const part of text.split("&")) {
    if (!part.includes("%")) continue;
    try {
      decodeURIComponent(part);
    } catch {
      const eq = part.indexOf("=");
      names.push(eq < 0 ? part : part.slice(0, eq));
    }
  }
  return names;
}

/** One query parameter; given more than once, or not valid percent-encoded UTF-8, is a 400. */
export function param(query: Query, name: string): string | undefined {
  if (query[UNDECODABLE]?.includes(name)) throw new InvalidArgumentError(`query parameter "${name}" is not valid percent-encoded UTF-8`);
  const value = query[name];
  if (Array.isArray(value)) throw new InvalidArgumentError(`query parameter "${name}" given more than once`);
  return value;
}

/** The bucket a request names (default when absent), checked and allowed to its caller. */
export function bucketOf(raw: IncomingMessage, query: Query): string {
  return callerOf(raw).bucket(param(query, "bucket"));
}

/** The bucket (checked, and allowed to the caller) and key a request names. */
export function objectTarget(raw: IncomingMessage, query: Query): { bucket: string; key: string } {
  return { bucket: bucketOf(raw, query), key: checkKey(param(query, "key")) };
}
