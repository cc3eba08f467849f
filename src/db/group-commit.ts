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
   */
  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: { maxBatch: number; concurrency: number },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /**
   * A batch leaves once the event loop has read every request that is ready, not in the middle of that
   * (setImmediate runs after the loop's I/O): PGlite runs a statement synchronously, so leaving at the
   * first submit() would send batches of one while the other requests wait unread in their sockets.
   */
  private schedule(): void {
    if (this.scheduled || this.running >= this.options.concurrency || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.send();
    });
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
