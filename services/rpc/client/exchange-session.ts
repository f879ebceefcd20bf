import type { ClientDuplexStream } from "@grpc/grpc-js";
import { ErrorCode, hasCode, MiniS3Error } from "../../common/errors";
import type { RequestId } from "../../common/request-context";
import { isSecretRefusal } from "../cluster-secret";
import { fromNodeCallError } from "../wire-errors";
import type { BatchRequest, BatchResponse, BlobOp, BlobOpResult, NodeServiceClient } from "../gen/minis3/v1/node";
import { MAX_MESSAGE_PAYLOAD } from "../wire/exchange-codec";

type OpBody = NonNullable<BlobOp["op"]>;

interface PendingOp {
  resolve(result: BlobOpResult): void;
  reject(e: Error): void;
  deadlineAt: number;
}

/**
 * The calling side of Exchange: one long-lived stream per node. Ops submitted within one
 * millisecond leave packed in one message; results come back matched by id.
 * A broken stream fails its pending ops with NodeUnavailable; the next op opens a new one.
 */
export class ExchangeSession {
  private stream?: ClientDuplexStream<BatchRequest, BatchResponse>;
  private readonly pending = new Map<number, PendingOp>();
  private queue: BlobOp[] = [];
  private queuedBytes = 0;
  private nextId = 1;
  private flushQueued = false;
  private sweepTimer?: NodeJS.Timeout;
  private closed = false;
  /**
   * Where the node's put sequence stood in the last message it sent (server/put-fence.ts); undefined
   * until it answered once, or for good from an older node (which sends none). What deletes name.
   */
  position?: { boot: number; seq: number };
  /** The node answered at least once (with no position: an older node, whose deletes go unfenced). */
  heard = false;

  constructor(
    private readonly client: NodeServiceClient,
    private readonly label: string,
    private readonly deadlineMs: number,
  ) {}

  /**
   * Sends one op of request `requestId`; resolves with its result (whatever its code), rejects only
   * when the node is unreachable.
   */
  submit(op: OpBody, payloadBytes: number, requestId: RequestId): Promise<BlobOpResult> {
    if (this.closed) return Promise.reject(new MiniS3Error(ErrorCode.NodeUnavailable, `client for node ${this.label} is closed`));
    const id = this.nextId++;
    return new Promise<BlobOpResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadlineAt: performance.now() + this.deadlineMs });
      // The op's own request id: the message that carries it packs other requests' ops too.
      this.queue.push({ id, op, requestId: requestId ?? "" });
      this.queuedBytes += payloadBytes;
      if (this.queuedBytes >= MAX_MESSAGE_PAYLOAD) this.flush();
      else if (!this.flushQueued) {
        this.flushQueued = true;
        setTimeout(this.flush, 1);
      }
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const s = this.stream;
    this.fail(new MiniS3Error(ErrorCode.NodeUnavailable, `client for node ${this.label} closed`));
    s?.end();
    s?.cancel();
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.queue.length === 0) return;
    const ops = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    const stream = this.stream ?? this.open();
    stream.write({ ops });
  };

  private open(): ClientDuplexStream<BatchRequest, BatchResponse> {
    const stream = this.client.exchange();
    this.stream = stream;
    stream.on("data", (batch: BatchResponse) => {
      // Before the results: a fenced delete answered here is asked again at this position.
      this.heard = true;
      if (batch.boot !== 0) this.position = { boot: batch.boot, seq: batch.seq };
      for (const r of batch.results) {
        const p = this.pending.get(r.id);
        if (!p) continue; // timed out earlier
        this.pending.delete(r.id);
        p.resolve(r);
      }
    });
    const broken = (e?: Error) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      // A node that refused the stream (meant for another node, or without our cluster secret) says
      // so; anything else is the transport.
      const refused = e && fromNodeCallError(e);
      this.fail(
        hasCode(refused, ErrorCode.WrongNode) || isSecretRefusal(refused)
          ? refused!
          : new MiniS3Error(ErrorCode.NodeUnavailable, `exchange with node ${this.label} broke: ${e?.message ?? "stream ended"}`),
      );
    };
    stream.on("error", broken);
    stream.on("end", () => broken());
    stream.on("close", () => broken());
    this.startSweep();
    return stream;
  }

  /** Fails every pending op (sent or still queued). */
  private fail(e: Error): void {
    this.queue = [];
    this.queuedBytes = 0;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** One timer for all deadlines: ops are in deadline order (same deadline for all), so stop at the first live one. */
  private startSweep(): void {
    if (this.sweepTimer) return;
    const every = Math.max(10, Math.min(1000, Math.floor(this.deadlineMs / 4)));
    this.sweepTimer = setInterval(() => {
      const now = performance.now(); // monotonic: a wall-clock jump must not expire (or extend) every op
      for (const [id, p] of this.pending) {
        if (p.deadlineAt > now) break;
        this.pending.delete(id);
        p.reject(new MiniS3Error(ErrorCode.NodeUnavailable, `node ${this.label} did not answer within ${this.deadlineMs} ms`));
      }
    }, every);
    this.sweepTimer.unref();
  }
}
