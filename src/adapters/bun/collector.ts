/**
 * Bun's collector does not count as pressure what native code leaves behind (TLS and HTTP objects of each new
 * connection, copies of its certificates, buffers of each PGlite call), so RSS swells under load before a
 * collection comes. These hints ask for full collections where that garbage piles up, rarely enough to cost
 * little throughput (README, "Memory on PGlite").
 */

/** What a new connection leaves for the collector beyond its certificates (TLS and HTTP objects), about. */
const CONNECTION_BYTES = 16 * 1024;
/** Bytes of new connections (and their certificates) after which a full collection runs. */
const COLLECT_AFTER_BYTES = 4 * 2 ** 20;

/** A full collection every COLLECT_AFTER_BYTES of new connections keeps a stream of them bounded. */
export function collectAfterPeers(): (chainBytes: number) => void {
  let bytes = 0;
  return (chainBytes) => {
    bytes += CONNECTION_BYTES + chainBytes;
    if (bytes < COLLECT_AFTER_BYTES) return;
    bytes = 0;
    Bun.gc(true);
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
  let rssAfter = 0;
  let at = 0;
  const collect = () => {
    Bun.gc(true);
    rssAfter = process.memoryUsage.rss();
    at = performance.now();
  };
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
    if (rssAfter === 0) rssAfter = process.memoryUsage.rss();
    if (process.memoryUsage.rss() > rssAfter + PRESSURE_BYTES && performance.now() - at > PRESSURE_INTERVAL_MS) collect();
  };
}
