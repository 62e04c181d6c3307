// WAL checkpoints on a worker thread. A checkpoint copies committed pages from the WAL into the
// database file and fsyncs both (synchronous=NORMAL syncs at checkpoints, not at commits); done
// inline by SQLite's auto-checkpoint it runs on the event loop after every ~1,000 WAL pages and
// stalls the request that triggered it. Here a second connection on a worker thread runs PASSIVE
// checkpoints, which never block the writer. Durability is unchanged: a commit is in the WAL file
// before the request that made it is answered; the checkpoint only moves it into the main file.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

// The worker is given as source text so the bundled server (one file) needs no second entry point;
// it loads the same better-sqlite3 the main thread uses, by absolute path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma("busy_timeout = 0");
const tick = () => {
  try {
    const [r] = db.pragma("wal_checkpoint(PASSIVE)");
    if (r && r.checkpointed > 0) parentPort.postMessage({ checkpointed: r.checkpointed });
  } catch { /* busy: next tick */ }
};
const timer = setInterval(tick, workerData.everyMs);
parentPort.on("message", (m) => {
  if (m === "close") { clearInterval(timer); tick(); db.close(); parentPort.postMessage("closed"); }
});
`;

export class Checkpointer {
  private readonly worker: Worker;
  private closed = false;
  /** Checkpoints that moved pages (observability and tests). */
  runs = 0;

  constructor(file: string, onError: (e: Error) => void, everyMs = 200) {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, everyMs } });
    this.worker.on("message", (m) => {
      if (m && typeof m === "object" && "checkpointed" in m) this.runs++;
    });
    // The worker holds no job state: if it dies the main connection's fallback auto-checkpoint
    // still bounds the WAL; the failure is reported, not fatal.
    this.worker.on("error", onError);
    this.worker.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      this.worker.on("message", (m) => {
        if (m !== "closed") return;
        clearTimeout(t);
        resolve();
      });
      this.worker.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      this.worker.postMessage("close");
    });
    await this.worker.terminate();
  }
}
