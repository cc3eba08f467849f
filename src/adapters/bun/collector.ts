/**
 * Bun's collector does not count as pressure what native code leaves behind (TLS and HTTP objects of each new
 * connection, copies of its certificates, buffers of each PGlite call), so RSS swells under load before a
 * collection comes. These hints ask for full collections where that garbage piles up, rarely enough to cost
 * little throughput (README, "Memory on PGlite").
 */

/** RSS as the last full collection left it (0 before the first), shared by both hints. */
let rssAfterCollection = 0;
let collectedAt = 0;
function collect(): void {
  Bun.gc(true);
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
export function collectAfterConnections(): () => void {
  let sinceCheck = 0;
  return () => {
    if (++sinceCheck < CONNECTIONS_PER_CHECK) return;
    sinceCheck = 0;
    if (rssGrownPast(CONNECTION_PRESSURE_BYTES)) collect();
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
 * Told after each embedded-database statement: collects once the database has been idle for IDLE_MS after a
 * burst, and under sustained load once RSS has grown PRESSURE_BYTES past the last collection.
 */
export function collectAfterStatements(): () => void {
  let statements = 0;
  let sinceCheck = 0;
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
        collect();
      }, IDLE_MS);
      idleTimer.unref?.();
    }
    if (++sinceCheck < STATEMENTS_PER_CHECK) return;
    sinceCheck = 0;
    if (rssGrownPast(PRESSURE_BYTES) && performance.now() - collectedAt > PRESSURE_INTERVAL_MS) collect();
  };
}
