import { Worker } from "node:worker_threads";
import { ByteBudgetCache, CrlDecodeRefused, decodeCrl, decodedCharge, type CrlDecoder, type DecodedCrl } from "../pki/index.ts";
import { sha256Hex } from "../pki/lib/digest.ts";
import type { Metrics } from "../metrics/registry.ts";

/** CRLs from this size (about 700 entries, ~10 ms to decode) are decoded in the worker thread; smaller ones on the event loop. */
export const WORKER_FROM_BYTES = 16 * 1024;
/** The longest one decode may run in the worker; past it the worker is stopped and the CRL refused. */
export const DECODE_TIME_CAP_MS = 60_000;
/**
 * CRLs waiting for the worker at most; one more is refused at once, unless its tenant has none waiting (and
 * fewer than twice as many wait in all).
 */
export const DECODE_QUEUE_LIMIT = 32;
/** CRLs one tenant (a root organization) may have waiting at most: one tenant cannot take the whole queue. */
export const DECODE_QUEUE_PER_TENANT = 8;
/** The tenant of the service's own decodes (the start's backfill of uploaded CRLs): it waits its turn like any other. */
const SERVICE = "";
/** Decoded CRLs kept by content (SHA-256 of the DER), least recently used out first. */
export const DECODED_CACHE_BYTES = 64 * 1024 * 1024;
/** An idle worker is stopped after this long, giving back the memory of its last decode. */
const IDLE_MS = 30_000;

/** Starts a worker thread running the TypeScript module `entry`. */
export type WorkerStarter = (entry: URL) => Worker;

let startWorker: WorkerStarter = (entry) => new Worker(entry);

/** Bun and Deno run a TypeScript worker as it is; Node's entry swaps in one that loads TypeScript first (src/server/node.ts). */
export function setWorkerStarter(start: WorkerStarter): void {
  startWorker = start;
}

export interface CrlDecodingLimits {
  workerFromBytes: number;
  timeCapMs: number;
  queueLimit: number;
  tenantQueueLimit: number;
  cacheBytes: number;
}

const DEFAULT_LIMITS: CrlDecodingLimits = {
  workerFromBytes: WORKER_FROM_BYTES,
  timeCapMs: DECODE_TIME_CAP_MS,
  queueLimit: DECODE_QUEUE_LIMIT,
  tenantQueueLimit: DECODE_QUEUE_PER_TENANT,
  cacheBytes: DECODED_CACHE_BYTES,
};

/**
 * How the service decodes CRL bytes (attach, PATCH, compiling a configuration version, refreshes, distribution
 * points): by content, so the same bytes are decoded once while they stay in the cache (concurrent callers share
 * one decode), and a large CRL in a worker thread, so that logins are answered meanwhile. The worker's queue is
 * shared fairly: each tenant (a root organization, whose admins control its CRLs) has a few places in it and
 * always one, and tenants take turns, so one tenant's CRLs cannot keep another's attach, PATCH or login waiting
 * or refused. A decode under way is shared only by callers of its tenant (another tenant's may still wait
 * behind that tenant's line); a finished one by every caller of the same bytes.
 */
export class CrlDecoding {
  /** Decoded CRLs by the SHA-256 of their DER. */
  readonly #cache: ByteBudgetCache<string, Promise<DecodedCrl>>;
  /** Decodes under way by tenant and SHA-256; each is a job the queue took (or one on the event loop). */
  readonly #pending = new Map<string, Promise<DecodedCrl>>();
  #closed = false;
  readonly #worker: DecodingThread;
  readonly #limits: CrlDecodingLimits;

  constructor(
    private readonly metrics: Metrics,
    limits: Partial<CrlDecodingLimits> = {},
  ) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
    this.#cache = new ByteBudgetCache(this.#limits.cacheBytes);
    this.#worker = new DecodingThread(this.#limits.timeCapMs, this.#limits.queueLimit, this.#limits.tenantQueueLimit, () =>
      this.metrics.crlDecodes.inc("worker"),
    );
  }

  /** The CrlDecoder of the service's own work (the start's backfill of uploaded CRLs). */
  readonly decode: CrlDecoder = (der) => this.#decode(der, SERVICE);

  /** The CrlDecoder of work done for `tenant` (the root organization id): its attaches, PATCHes, logins and refreshes. */
  decoderFor(tenant: string): CrlDecoder {
    return (der) => this.#decode(der, tenant);
  }

  /** Whether a CRL of `tenant` that needs the worker would be taken now (a caller about to fetch one asks first). */
  hasRoomFor(tenant: string): boolean {
    return this.#worker.refusal(tenant) === null;
  }

  async #decode(der: Uint8Array<ArrayBuffer>, tenant: string): Promise<DecodedCrl> {
    const key = await sha256Hex(der);
    const hit = this.#cache.get(key) ?? this.#pending.get(`${tenant} ${key}`);
    if (hit) return hit;
    if (this.#closed) throw stopping();
    const inWorker = der.length >= this.#limits.workerFromBytes;
    // Refused before anything is shared: a refusal is this tenant's alone.
    const refused = inWorker ? this.#worker.refusal(tenant) : null;
    if (refused) throw refused;
    if (!inWorker) this.metrics.crlDecodes.inc("event_loop");
    // A job still waiting when another tenant's decode of the same bytes finishes is answered from the cache.
    const decoding = inWorker ? this.#worker.decode(der, tenant, () => this.#cache.get(key)) : Promise.resolve().then(() => decodeCrl(der));
    const pendingKey = `${tenant} ${key}`;
    this.#pending.set(pendingKey, decoding);
    decoding
      .then(
        (decoded) => this.#cache.set(key, decoding, decodedCharge(decoded)),
        () => {},
      )
      .finally(() => this.#pending.delete(pendingKey));
    return decoding;
  }

  /** Bytes the cache holds now, at most `cacheBytes`. */
  get cachedBytes(): number {
    return this.#cache.bytes;
  }

  /** Stops for good: the worker's decode under way, those waiting and any asked later are refused. */
  close(): void {
    this.#closed = true;
    this.#worker.close();
  }
}

interface Job {
  der: Uint8Array<ArrayBuffer>;
  /** The same bytes decoded meanwhile (for another tenant), looked up when the job's turn comes. */
  decoded: () => Promise<DecodedCrl> | undefined;
  resolve(decoded: DecodedCrl): void;
  reject(err: Error): void;
}

type Answer = { ready: true } | { decoded: DecodedCrl } | { error: string };

const stopping = () => new CrlDecodeRefused("could not be decoded: the service is stopping", true);

/**
 * One worker thread, started on demand, that decodes one CRL at a time from a bounded queue: per tenant first in,
 * first out, and tenants served in turn (one CRL each, round robin).
 */
class DecodingThread {
  #worker: Worker | null = null;
  /** The worker has loaded its modules and takes a CRL. */
  #ready = false;
  #current: Job | null = null;
  /** Waiting jobs by tenant, the tenant to be served next first. */
  #waiting = new Map<string, Job[]>();
  #queued = 0;
  #closed = false;
  #cap: ReturnType<typeof setTimeout> | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly timeCapMs: number,
    private readonly queueLimit: number,
    private readonly tenantQueueLimit: number,
    /** Told when a CRL goes to the worker (one answered from the cache meanwhile does not). */
    private readonly started: () => void,
  ) {}

  /**
   * Why a CRL of `tenant` would be refused now, or null when the queue takes it: a tenant has at most
   * `tenantQueueLimit` waiting, and past the global limit only a tenant with none waiting gets in.
   */
  refusal(tenant: string): CrlDecodeRefused | null {
    if (this.#closed) return stopping();
    const waiting = this.#waiting.get(tenant)?.length ?? 0;
    if (waiting >= this.tenantQueueLimit) {
      return new CrlDecodeRefused(`could not be decoded now: ${waiting} CRLs of this organization are waiting to be decoded; try again later`, true);
    }
    if ((waiting > 0 && this.#queued >= this.queueLimit) || this.#queued >= 2 * this.queueLimit) {
      return new CrlDecodeRefused(`could not be decoded now: ${this.#queued} CRLs are waiting to be decoded; try again later`, true);
    }
    return null;
  }

  /** Queues a CRL that `refusal` let in. */
  decode(der: Uint8Array<ArrayBuffer>, tenant: string, decoded: Job["decoded"]): Promise<DecodedCrl> {
    return new Promise((resolve, reject) => {
      const mine = this.#waiting.get(tenant);
      if (mine) mine.push({ der, decoded, resolve, reject });
      else this.#waiting.set(tenant, [{ der, decoded, resolve, reject }]);
      this.#queued++;
      this.#next();
    });
  }

  close(): void {
    this.#closed = true;
    // The waiting ones first, so that finishing the current one starts nothing.
    for (const jobs of this.#waiting.values()) for (const job of jobs) job.reject(stopping());
    this.#waiting.clear();
    this.#queued = 0;
    this.#stop();
    this.#finish(stopping());
  }

  /** The first waiting job of the tenant whose turn it is; that tenant goes to the back of the line. */
  #take(): Job | undefined {
    for (const [tenant, jobs] of this.#waiting) {
      const job = jobs.shift()!;
      this.#waiting.delete(tenant);
      if (jobs.length > 0) this.#waiting.set(tenant, jobs);
      this.#queued--;
      return job;
    }
    return undefined;
  }

  #next(): void {
    if (this.#current) return;
    let job: Job | undefined;
    for (let found; (job = this.#take()) && (found = job.decoded()); ) found.then(job.resolve, job.reject);
    if (!job) {
      clearTimeout(this.#idle);
      this.#idle = setTimeout(() => this.#stop(), IDLE_MS);
      this.#idle.unref?.();
      return;
    }
    clearTimeout(this.#idle);
    this.#current = job;
    this.started();
    // From now, worker start included: a worker that never gets ready holds nobody past the cap.
    this.#cap = setTimeout(() => {
      this.#stop();
      this.#finish(new CrlDecodeRefused(`was not decoded within ${this.timeCapMs / 1000} s`));
    }, this.timeCapMs);
    this.#cap.unref?.();
    if (!this.#worker) this.#worker = this.#start();
    else if (this.#ready) this.#send(this.#worker, job);
  }

  #send(worker: Worker, job: Job): void {
    // A copy: the caller keeps its bytes (they are stored or hashed after this).
    worker.postMessage(job.der);
  }

  #start(): Worker {
    const worker = startWorker(new URL("./crl-worker.ts", import.meta.url));
    worker.unref();
    this.#ready = false;
    worker.on("message", (answer: Answer) => {
      if (this.#worker !== worker) return;
      if ("ready" in answer) {
        this.#ready = true;
        if (this.#current) this.#send(worker, this.#current);
      } else if ("decoded" in answer) this.#finish(null, answer.decoded);
      else this.#finish(new Error(answer.error));
    });
    worker.on("error", (err: Error) => {
      if (this.#worker !== worker) return;
      this.#stop();
      this.#finish(err);
    });
    worker.on("exit", () => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      this.#finish(new Error("the decoding thread stopped"));
    });
    return worker;
  }

  #stop(): void {
    const worker = this.#worker;
    this.#worker = null;
    void worker?.terminate();
  }

  #finish(err: Error | null, decoded?: DecodedCrl): void {
    const job = this.#current;
    clearTimeout(this.#cap);
    this.#current = null;
    if (job) {
      if (err) job.reject(err);
      else job.resolve(decoded!);
    }
    // After the reactions to that answer, so that the decoded CRL is in the cache for the next job's lookup.
    queueMicrotask(() => this.#next());
  }
}
