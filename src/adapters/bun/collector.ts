/**
 * Bun's collector does not count as pressure what native code leaves behind (TLS and HTTP objects of each new
 * connection, copies of its certificates, buffers of each PGlite call), so RSS swells under load before a
 * collection comes. These hints ask for full collections where that garbage piles up, rarely enough to cost
 * little throughput, and for young ones often enough that garbage is collected before the allocator gives its
 * pages back (README, "Memory on PGlite").
 */

/** Runs a collection: full (the whole heap) or not (the young generation only). */
export type Collector = (full: boolean) => void;
const bunGc: Collector = (full) => void Bun.gc(full);

/** RSS as the last full collection left it (0 before the first), shared by both hints. */
let rssAfterCollection = 0;
let collectedAt = 0;
function collect(gc: Collector): void {
  gc(true);
  rssAfterCollection = process.memoryUsage.rss();
  collectedAt = performance.now();
}
function rssGrownPast(bytes: number): boolean {
  if (rssAfterCollection === 0) rssAfterCollection = process.memoryUsage.rss();
  return process.memoryUsage.rss() > rssAfterCollection + bytes;
}

/** New connections between two readings of RSS, which is a system call. */
const CONNECTIONS_PER_CHECK = 64;
/** RSS growth past the last collection after which new connections call for another. */
const CONNECTION_PRESSURE_BYTES = 16 * 2 ** 20;

/**
 * Told of each new connection: a full collection once RSS has grown CONNECTION_PRESSURE_BYTES past the last one,
 * so a stream of new connections (large certificates or not) cannot swell it by hundreds of MiB, while a
 * steady load whose RSS does not climb pays nothing.
 */
export function collectAfterConnections(gc: Collector = bunGc): () => void {
  let sinceCheck = 0;
  return () => {
    if (++sinceCheck < CONNECTIONS_PER_CHECK) return;
    sinceCheck = 0;
    if (rssGrownPast(CONNECTION_PRESSURE_BYTES)) collect(gc);
  };
}

/** Quiet time after a burst of statements before the collection that gives their garbage back. */
const IDLE_MS = 1000;
/** Under sustained load, RSS growth past the last collection that calls for another... */
const PRESSURE_BYTES = 48 * 2 ** 20;
/** ...but no more often than this, since a full collection over PGlite's heap stalls the service. */
const PRESSURE_INTERVAL_MS = 30_000;
/** Statements between two readings of RSS, which is a system call. */
const STATEMENTS_PER_CHECK = 200;
/**
 * Statements between two young-generation collections. JavaScriptCore sizes its young generation by the whole
 * heap, and PGlite's WebAssembly memory (about 280 MB) counts in it, so on its own it lets 40-75 MB of garbage
 * pile up, about 3 times a second under load. Those pages fall free at once, sit unused for longer than Bun's
 * allocator waits (100 ms) before it gives pages back to the kernel, and are faulted in again on the next cycle.
 * A young collection every 32 statements (about 400 logins under keep-alive load) costs a few ms and keeps
 * them in use (README, "Memory on PGlite").
 */
const STATEMENTS_PER_YOUNG_COLLECTION = 32;

/**
 * Told after each embedded-database statement: collects the young generation every
 * STATEMENTS_PER_YOUNG_COLLECTION statements, everything once the database has been idle for IDLE_MS after a
 * burst, and under sustained load once RSS has grown PRESSURE_BYTES past the last collection.
 */
export function collectAfterStatements(gc: Collector = bunGc): () => void {
  let statements = 0;
  let sinceCheck = 0;
  let sinceYoung = 0;
  let idleTimer: ReturnType<typeof setInterval> | undefined;
  return () => {
    statements++;
    if (!idleTimer) {
      // Polls for quiet rather than re-arming a timer per statement; unref'd, so it never holds the process open.
      let seen = -1;
      idleTimer = setInterval(() => {
        if (statements !== seen) {
          seen = statements;
          return;
        }
        clearInterval(idleTimer);
        idleTimer = undefined;
        collect(gc);
      }, IDLE_MS);
      idleTimer.unref?.();
    }
    if (++sinceYoung >= STATEMENTS_PER_YOUNG_COLLECTION) {
      sinceYoung = 0;
      gc(false);
    }
    if (++sinceCheck < STATEMENTS_PER_CHECK) return;
    sinceCheck = 0;
    if (rssGrownPast(PRESSURE_BYTES) && performance.now() - collectedAt > PRESSURE_INTERVAL_MS) collect(gc);
  };
}
