// The facade's query strings, read the same way on both of its paths (fastify's routes and the object
// routes served before it, http-object-routes.ts): one parser, and one reading of the names it gives.
import type { IncomingMessage } from "node:http";
import { parse } from "fast-querystring";
import { InvalidArgumentError } from "../../common/errors";
import { checkKey } from "../objects/names";
import { callerOf } from "./http-credentials";

export type Query = Record<string, string | string[] | undefined>;

/** A query string (without its `?`) as fastify's router reads it: a name given twice is an array. */
export function parseQuery(text: string): Query {
  return text.length === 0 ? {} : (parse(text) as Query);
}

/** One query parameter; given more than once is a 400. */
export function param(query: Query, name: string): string | undefined {
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
