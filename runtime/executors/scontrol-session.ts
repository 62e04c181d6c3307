// One long-lived `scontrol -o` reading commands on stdin, for the Slurm executor's frequent
// questions about single jobs ("show job N"). A spawned command costs a fork of the server process
// on its event loop plus an exec (30–110 ms each at load 6–9 here, ~5 ms quiet); a question to the
// running scontrol costs one RPC to slurmctld (~2–7 ms round trip at the same load). Answers are
// framed by `show hostnames <marker>`, which scontrol answers locally with the marker itself.
// Job ids are digits only, so nothing else can reach scontrol's command line.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

interface Pending {
  marker: string;
  resolve: (out: string | undefined) => void;
  timer: NodeJS.Timeout;
}

export class ScontrolSession {
  private proc?: ChildProcessWithoutNullStreams;
  private buf = "";
  private readonly queue: Pending[] = [];
  private seq = 0;
  /** Consecutive failures: after 3 the session rests a minute and callers spawn scontrol themselves. */
  private failures = 0;
  private restUntil = 0;

  constructor(private readonly env: NodeJS.ProcessEnv, private readonly timeoutMs = 5000) {}

  /** The running scontrol's pid (tests stop it to prove the session starts again). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /**
   * `scontrol -o show job <id>`'s output; undefined when the session cannot answer (caller falls
   * back). Empty when Slurm does not know the job, and also when slurmctld did not answer (the
   * error goes to stderr either way): `controllerUp` tells the two apart.
   */
  showJob(slurmId: string): Promise<string | undefined> {
    if (!/^\d+$/.test(slurmId)) return Promise.resolve(undefined);
    return this.ask(`show job ${slurmId}`);
  }

  /** `scontrol ping`: whether slurmctld answers; undefined when the session cannot ask. */
  async controllerUp(): Promise<boolean | undefined> {
    const out = await this.ask("ping");
    return out === undefined ? undefined : / is UP\b/.test(out);
  }

  private ask(command: string): Promise<string | undefined> {
    if (Date.now() < this.restUntil) return Promise.resolve(undefined);
    const p = this.start();
    if (!p) return Promise.resolve(undefined);
    const marker = `uws-end-${++this.seq}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.fail(), this.timeoutMs);
      timer.unref?.();
      this.queue.push({ marker, resolve, timer });
      p.stdin.write(`${command}\nshow hostnames ${marker}\n`);
    });
  }

  private start(): ChildProcessWithoutNullStreams | undefined {
    if (this.proc) return this.proc;
    let p: ChildProcessWithoutNullStreams;
    try {
      p = spawn("scontrol", ["-o"], { env: this.env, stdio: ["pipe", "pipe", "pipe"] });
    } catch {
      this.restUntil = Date.now() + 60_000;
      return undefined;
    }
    this.proc = p;
    this.buf = "";
    p.stdout.setEncoding("utf8");
    p.stdout.on("data", (d: string) => this.read(p, d));
    // Unknown jobs are reported on stderr ("Invalid job id specified"): their answer is empty.
    p.stderr.resume();
    p.stdin.on("error", () => this.fail(p));
    p.on("error", () => this.fail(p));
    p.on("exit", () => this.fail(p));
    return p;
  }

  private read(p: ChildProcessWithoutNullStreams, d: string): void {
    if (p !== this.proc) return;
    this.buf += d;
    for (;;) {
      // The next prompt ("scontrol: ") may arrive before the next question: kept with the buffer.
      const head = this.queue[0];
      if (!head) return;
      const end = this.buf.indexOf(`\n${head.marker}\n`);
      if (end < 0) return;
      // Without a terminal scontrol echoes each command after its prompt ("scontrol: show job 7").
      const out = this.buf.slice(0, end).split("\n").filter((l) => l && !l.startsWith("scontrol: ") && !l.startsWith("show ") && l !== "ping").join("\n");
      this.buf = this.buf.slice(end + head.marker.length + 2);
      this.queue.shift();
      clearTimeout(head.timer);
      this.failures = 0;
      head.resolve(out);
    }
  }

  /** The process died, timed out or cannot be written to: every pending question gets undefined. */
  private fail(p = this.proc): void {
    if (!p || p !== this.proc) return;
    this.proc = undefined;
    if (++this.failures >= 3) {
      this.failures = 0;
      this.restUntil = Date.now() + 60_000;
    }
    if (p.exitCode === null && p.signalCode === null) p.kill();
    for (const q of this.queue.splice(0)) {
      clearTimeout(q.timer);
      q.resolve(undefined);
    }
  }

  close(): void {
    const p = this.proc;
    this.proc = undefined;
    for (const q of this.queue.splice(0)) {
      clearTimeout(q.timer);
      q.resolve(undefined);
    }
    if (p) {
      p.stdin.end();
      if (p.exitCode === null && p.signalCode === null) p.kill();
    }
  }
}
