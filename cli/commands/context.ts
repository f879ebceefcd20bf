import type { FacadeClient } from "../facade-client";

/** What every command gets: the signed client and how to print. */
export interface CommandContext {
  client: FacadeClient;
  /** --json: one JSON document on stdout, nothing else on it, no progress bars. */
  json: boolean;
  /** Progress bars allowed (not --json, not --quiet); they appear only on a terminal. */
  progress: boolean;
  /** A line of human output on stdout. */
  print(text: string): void;
  /** The --json document on stdout. */
  printJson(value: unknown): void;
}

/** The object a command names. */
export interface ObjectRef {
  bucket: string;
  key: string;
}
