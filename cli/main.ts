#!/usr/bin/env node
// `minis3`: the command line for a MiniS3 cluster, over the coordinator's HTTP facade (signed with
// SigV4). Each command is a function in commands/; this file only declares them (commander), finds
// the endpoint and keys (profile.ts), and turns every failure into a message on stderr and an exit
// code from exit-codes.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { repoRoot } from "../deploy/launcher/paths";
import type { CommandContext } from "./commands/context";
import { ls, trash } from "./commands/listing";
import { get, put, type PutOptions, rm, statObject, undelete } from "./commands/objects";
import { status, UPCOMING_DEFAULT, UPCOMING_MAX } from "./commands/status";
import { CliError, EXIT } from "./exit-codes";
import { FacadeClient } from "./facade-client";
import { credentialsFilePath, DEFAULT_ENDPOINT, resolveTarget } from "./profile";

interface CommonOptions {
  endpoint?: string;
  profile?: string;
  json?: boolean;
  quiet?: boolean;
  bucket: string;
  max?: number;
  versionId?: string;
  upcoming?: number;
}

const EXIT_HELP = `
Exit codes:
  0  done
  1  usage: a bad command line, no credentials found, or a local file that cannot be read or written
  2  not found: no such key, bucket or node
  3  credentials refused (unknown key, wrong secret, clock skew) or not allowed
  4  request refused by the cluster (invalid key, too large, conflict)
  5  cluster unavailable: cannot connect, timeout, or a server error
  6  integrity: bytes that do not match their sha256
  7  chaos: data lost, wrong, resurrected or stale, or objects not back at R copies
  8  internal error in minis3 itself

Endpoint and keys, first found: --profile (or MINIS3_PROFILE) in ${credentialsFilePath(process.env)};
MINIS3_ACCESS_KEY + MINIS3_SECRET_KEY; that file's [default] profile; ./data/credentials.json (npm start's).
The endpoint: --endpoint, MINIS3_ENDPOINT, the profile's, else ${DEFAULT_ENDPOINT}.`;

/** Exit codes beyond the table in exit-codes.ts: a bug here, not a failure of the cluster or the user. */
const INTERNAL = 8;

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function fail(e: unknown): number {
  if (e instanceof CliError) {
    process.stderr.write(`minis3: ${e.message}\n`);
    return e.exitCode;
  }
  process.stderr.write(`minis3: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return INTERNAL;
}

/** Runs a command with a client for the resolved endpoint; sets the exit code. */
function action(body: (ctx: CommandContext, o: CommonOptions, args: string[]) => Promise<void>) {
  return async (...handlerArgs: unknown[]): Promise<void> => {
    const cmd = handlerArgs[handlerArgs.length - 1] as Command;
    const o = cmd.opts<CommonOptions>();
    try {
      const client = new FacadeClient(resolveTarget(o));
      const ctx: CommandContext = {
        client,
        json: o.json === true,
        progress: o.json !== true && o.quiet !== true,
        print: (text) => process.stdout.write(`${text}\n`),
        printJson: (value) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
      };
      await body(ctx, o, cmd.processedArgs as string[]);
      process.exitCode = EXIT.ok;
    } catch (e) {
      process.exitCode = fail(e);
    }
  };
}

function withCommon(cmd: Command, opts: { bucket?: boolean } = {}): Command {
  cmd
    .option("--endpoint <url>", `the coordinator's HTTP address (default: MINIS3_ENDPOINT, the profile's, ${DEFAULT_ENDPOINT})`)
    .option("--profile <name>", "a profile of the credentials file (default: MINIS3_PROFILE)")
    .option("--json", "one JSON document on stdout, for scripts (no progress, no prose)")
    .option("-q, --quiet", "no progress bars");
  if (opts.bucket) cmd.option("-b, --bucket <name>", "the bucket", "default");
  return cmd;
}

/** A parser of a whole-number option from `min` to `max`; anything else is a usage error. */
function wholeNumber(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new CliError(
        EXIT.usage,
        `${flag} takes a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}, got "${v}"`,
      );
    }
    return n;
  };
}

function maxOption(): Option {
  return new Option("-n, --max <count>", "stop after this many entries").argParser(wholeNumber("--max", 1));
}

export function program(): Command {
  const p = new Command("minis3")
    .description("Command line for a MiniS3 cluster: objects in and out, the trash, the cluster's state, a chaos check.")
    .version(version(), "-V, --version")
    .showHelpAfterError("(minis3 --help lists the commands; minis3 help COMMAND explains one)")
    .addHelpText("after", EXIT_HELP);

  withCommon(p.command("put").description("upload a file (or - for stdin) as an object"), { bucket: true })
    .argument("<file>", "the file to upload, or - for stdin")
    .argument("[key]", "the key to store it under (default: the file's name)")
    .option("-t, --content-type <type>", "Content-Type (default: from the file's extension)")
    .option("-m, --meta <name=value>", "user metadata, repeatable", (v: string, all: string[] = []) => [...all, v])
    .action(action((ctx, o, [file, key]) => put(ctx, file, key, o.bucket, o as PutOptions)));

  withCommon(p.command("get").description("download an object to a file (or - for stdout), checked against its sha256"), { bucket: true })
    .argument("<key>", "the object's key")
    .argument("[dest]", "a file or directory, or - for stdout (default: the key's last part, here)")
    .action(action((ctx, o, [key, dest]) => get(ctx, { bucket: o.bucket, key }, dest)));

  withCommon(p.command("rm").description("delete an object: it goes to the trash and can be undeleted until purged"), { bucket: true })
    .argument("<key>", "the object's key")
    .action(action((ctx, o, [key]) => rm(ctx, { bucket: o.bucket, key })));

  withCommon(p.command("undelete").description("bring back the newest version of a key from the trash"), { bucket: true })
    .argument("<key>", "the object's key")
    .action(action((ctx, o, [key]) => undelete(ctx, { bucket: o.bucket, key })));

  withCommon(p.command("stat").description("an object's size, sha256, tier, copies and next lifecycle transition"), { bucket: true })
    .argument("<key>", "the object's key")
    .option("--version-id <id>", "a restorable version of the key (from minis3 trash) instead of the visible one")
    .action(action((ctx, o, [key]) => statObject(ctx, { bucket: o.bucket, key }, o.versionId)));

  withCommon(p.command("ls").description("list objects (all pages, as they come)"), { bucket: true })
    .argument("[prefix]", "only keys that start with this", "")
    .addOption(maxOption())
    .action(action((ctx, o, [prefix]) => ls(ctx, o.bucket, prefix, { max: o.max })));

  withCommon(p.command("trash").description("list what can be undeleted, and when each will be purged"), { bucket: true })
    .argument("[prefix]", "only keys that start with this", "")
    .addOption(maxOption())
    .action(action((ctx, o, [prefix]) => trash(ctx, o.bucket, prefix, { max: o.max })));

  withCommon(p.command("status").description("coordinators, nodes, the ring, tiers, lifecycle queues and upcoming transitions, repair"))
    .addOption(
      new Option("-u, --upcoming <count>", "the next transitions due to list, cluster-wide (0: none)")
        .default(UPCOMING_DEFAULT)
        .argParser(wholeNumber("--upcoming", 0, UPCOMING_MAX)),
    )
    .action(action((ctx, o) => status(ctx, o.upcoming)));

  p.command("chaos")
    .description("run the checked chaos workload (npm run chaos) against the cluster: minis3 chaos --help for its options")
    .option("--endpoint <url>", "the default --target")
    .option("--profile <name>", "sign with this profile's keys")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]", "npm run chaos's options: --target URL, --kill-cmd CMD, --duration, …")
    .action(async (_rest: string[], o: { endpoint?: string; profile?: string }, cmd: Command) => {
      let target;
      try {
        target = resolveTarget(o);
      } catch {
        target = undefined; // chaos then signs as npm run chaos does, or reports 401
      }
      try {
        // Loaded only here: the chaos workload brings the bench's code and zod, ~0.3 s of start-up for every other command.
        const { chaos } = await import("./commands/chaos");
        process.exitCode = await chaos(cmd.args, target);
      } catch (e) {
        process.exitCode = fail(e);
      }
    });

  return p;
}

if (require.main === module) {
  program()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      process.exitCode = fail(e);
    });
}
