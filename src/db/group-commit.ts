/** A turn of the event loop longer than this did other work (an empty turn takes a few µs). */
const BUSY_TURN_MS = 0.05;

/**
 * Group commit: callers submit one item each; while a batch is in the database, the items that arrive
 * queue up and go together as the next batch, in one statement. A lone caller waits for nobody: its item
 * leaves at once. Under load, one durable write serves many logins instead of one each.
 */
export class GroupCommit<I, O> {
  private readonly queue: { item: I; resolve: (out: O) => void; reject: (err: unknown) => void }[] = [];
  private running = 0;
  private scheduled = false;

  /**
   * @param run answers a batch: one output per item, in order. It runs again item by item when a batch of
   *   several fails, so one item's error never fails the others.
   * @param concurrency batches in the database at once (1 for PGlite, which runs one statement at a time).
   * @param maxWaitMs how long a batch may wait for more items while the process is busy with other work (0: never).
   */
  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: { maxBatch: number; concurrency: number; maxWaitMs?: number },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /**
   * A batch leaves at the first turn of the event loop that found nothing else to do (setImmediate runs after
   * the loop's I/O), or once it is full, or maxWaitMs after it began to wait. PGlite runs a statement
   * synchronously, so leaving at the first submit() would send batches of one while the other requests wait
   * unread in their sockets; and when logins arrive one by one between other work (each on a new connection,
   * after its TLS handshake), leaving at the first turn would too. A turn with no other work means nothing
   * more is coming soon, so a lone caller still waits for nobody.
   */
  private schedule(): void {
    if (this.scheduled || this.running >= this.options.concurrency || this.queue.length === 0) return;
    this.scheduled = true;
    const began = performance.now();
    let turnBegan = began;
    let queued = this.queue.length;
    const turn = () => {
      const now = performance.now();
      const busy = now - turnBegan > BUSY_TURN_MS || this.queue.length > queued;
      if (busy && this.queue.length < this.options.maxBatch && now - began < (this.options.maxWaitMs ?? 0)) {
        turnBegan = now;
        queued = this.queue.length;
        setImmediate(turn);
        return;
      }
      this.scheduled = false;
      void this.send();
    };
    setImmediate(turn);
  }

  private async send(): Promise<void> {
    if (this.running >= this.options.concurrency || this.queue.length === 0) return;
    this.running++;
    const batch = this.queue.splice(0, this.options.maxBatch);
    try {
      const outputs = await this.run(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(outputs[i]!));
    } catch (err) {
      if (batch.length === 1) batch[0]!.reject(err);
      else {
        for (const b of batch) {
          try {
            const [output] = await this.run([b.item]);
            b.resolve(output!);
          } catch (single) {
            b.reject(single);
          }
        }
      }
    } finally {
      this.running--;
      this.schedule();
    }
  }
}

/**
 * A PostgreSQL array literal in text form (`{"a","b",NULL}`), for one parameter that a statement unnests:
 * every element quoted, backslash and double quote escaped, null as NULL.
 */
export function pgArray(values: readonly (string | null)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ",";
    const v = values[i];
    if (v === null || v === undefined) out += "NULL";
    else if (v.includes("\\") || v.includes('"')) out += `"${v.replace(/[\\"]/g, "\\$&")}"`;
    else out += `"${v}"`;
  }
  return out + "}";
}
