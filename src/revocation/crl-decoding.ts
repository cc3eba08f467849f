import { Worker } from "node:worker_threads";
import { ByteBudgetCache, CrlDecodeRefused, decodeCrl, decodedCharge, type CrlDecoder, type DecodedCrl } from "../pki/index.ts";
import { sha256Hex } from "../pki/lib/digest.ts";
import type { Metrics } from "../metrics/registry.ts";

/** CRLs from this size (about 700 entries, ~10 ms to decode) are decoded in the worker thread; smaller ones on the event loop. */
export const WORKER_FROM_BYTES = 16 * 1024;
/** The longest one decode may run in the worker; past it the worker is stopped and the CRL refused. */
export const DECODE_TIME_CAP_MS = 60_000;
/** CRLs waiting for the worker at most; one more is refused at once. */
export const DECODE_QUEUE_LIMIT = 32;
/** Decoded CRLs kept by content (SHA-256 of the DER), least recently used out first. */
export const DECODED_CACHE_BYTES = 64 * 1024 * 1024;
/** An idle worker is stopped after this long, giving back the memory of its last decode. */
const IDLE_MS = 30_000;
/** Charged to a decode under way; replaced by what it retains once done. */
const PENDING_BYTES = 4 * 1024;

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
  cacheBytes: number;
}

const DEFAULT_LIMITS: CrlDecodingLimits = {
  workerFromBytes: WORKER_FROM_BYTES,
  timeCapMs: DECODE_TIME_CAP_MS,
  queueLimit: DECODE_QUEUE_LIMIT,
  cacheBytes: DECODED_CACHE_BYTES,
};

/**
 * How the service decodes CRL bytes (attach, PATCH, compiling a configuration version, refreshes, distribution
 * points): by content, so the same bytes are decoded once while they stay in the cache (concurrent callers share
 * one decode), and a large CRL in a worker thread, so that logins are answered meanwhile.
 */
export class CrlDecoding {
  readonly #cache: ByteBudgetCache<string, Promise<DecodedCrl>>;
  readonly #worker: DecodingThread;
  readonly #limits: CrlDecodingLimits;

  constructor(
    private readonly metrics: Metrics,
    limits: Partial<CrlDecodingLimits> = {},
  ) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
    this.#cache = new ByteBudgetCache(this.#limits.cacheBytes);
    this.#worker = new DecodingThread(this.#limits.timeCapMs, this.#limits.queueLimit);
  }

  /** The CrlDecoder compileTrust and compileCrl take. */
  readonly decode: CrlDecoder = async (der) => {
    const key = await sha256Hex(der);
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const decoding = der.length < this.#limits.workerFromBytes ? this.#here(der) : this.#elsewhere(der);
    this.#cache.set(key, decoding, PENDING_BYTES);
    decoding.then(
      (decoded) => {
        if (this.#cache.peek(key) === decoding) this.#cache.set(key, decoding, decodedCharge(decoded));
      },
      () => {
        if (this.#cache.peek(key) === decoding) this.#cache.delete(key);
      },
    );
    return decoding;
  };

  async #here(der: Uint8Array<ArrayBuffer>): Promise<DecodedCrl> {
    this.metrics.crlDecodes.inc("event_loop");
    return decodeCrl(der);
  }

  #elsewhere(der: Uint8Array<ArrayBuffer>): Promise<DecodedCrl> {
    this.metrics.crlDecodes.inc("worker");
    return this.#worker.decode(der);
  }

  /** Bytes the cache holds now, at most `cacheBytes`. */
  get cachedBytes(): number {
    return this.#cache.bytes;
  }

  /** Stops the worker (its decode under way and those waiting are refused). */
  close(): void {
    this.#worker.close();
  }
}

interface Job {
  der: Uint8Array<ArrayBuffer>;
  resolve(decoded: DecodedCrl): void;
  reject(err: Error): void;
}

type Answer = { ready: true } | { decoded: DecodedCrl } | { error: string };

/** One worker thread, started on demand, that decodes one CRL at a time from a bounded queue. */
class DecodingThread {
  #worker: Worker | null = null;
  /** The worker has loaded its modules and takes a CRL. */
  #ready = false;
  #current: Job | null = null;
  #queue: Job[] = [];
  #cap: ReturnType<typeof setTimeout> | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly timeCapMs: number,
    private readonly queueLimit: number,
  ) {}

  decode(der: Uint8Array<ArrayBuffer>): Promise<DecodedCrl> {
    if (this.#queue.length >= this.queueLimit) {
      return Promise.reject(new CrlDecodeRefused(`could not be decoded now: ${this.#queue.length} CRLs are waiting to be decoded; try again later`, true));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ der, resolve, reject });
      this.#next();
    });
  }

  close(): void {
    this.#stop();
    this.#finish(new CrlDecodeRefused("could not be decoded: the service is stopping", true));
    for (const job of this.#queue.splice(0)) job.reject(new CrlDecodeRefused("could not be decoded: the service is stopping", true));
  }

  #next(): void {
    if (this.#current) return;
    const job = this.#queue.shift();
    if (!job) {
      clearTimeout(this.#idle);
      this.#idle = setTimeout(() => this.#stop(), IDLE_MS);
      this.#idle.unref?.();
      return;
    }
    clearTimeout(this.#idle);
    this.#current = job;
    if (!this.#worker) this.#worker = this.#start();
    else if (this.#ready) this.#send(this.#worker, job);
  }

  #send(worker: Worker, job: Job): void {
    this.#cap = setTimeout(() => {
      this.#stop();
      this.#finish(new CrlDecodeRefused(`was not decoded within ${this.timeCapMs / 1000} s`));
    }, this.timeCapMs);
    this.#cap.unref?.();
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
    this.#next();
  }
}
