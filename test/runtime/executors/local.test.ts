// The local executor and its launcher process, driven directly (no HTTP): one process per job (the
// job's executable exec'd by the launcher, no wrapper shell), the exit status file the launcher
// writes, the work-dir files it prepares, start errors that say their fix, and a launcher that
// outlives its server's close while jobs run, to write their status.
import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalExecutor } from "../../../runtime/executors/local.js";
import type { ExecUpdate, LaunchSpec } from "../../../runtime/executors/executor.js";

const root = mkdtempSync(join(tmpdir(), "uws-local-exec-"));
const leftovers: number[] = [];
afterAll(() => {
  for (const pid of leftovers) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  rmSync(root, { recursive: true, force: true });
});

/** An executor whose updates are collected; `until` resolves at a job's first update of a phase. */
function harness(concurrency = 4) {
  const updates: Array<[string, ExecUpdate]> = [];
  const waiting: Array<{ jobId: string; phases: string[]; resolve: (u: ExecUpdate) => void }> = [];
  const ex = new LocalExecutor((jobId, u) => {
    updates.push([jobId, u]);
    for (const w of [...waiting]) {
      if (w.jobId === jobId && w.phases.includes(u.phase)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(u);
      }
    }
  }, concurrency);
  const until = (jobId: string, ...phases: string[]) =>
    new Promise<ExecUpdate>((resolve) => {
      const seen = updates.find(([id, u]) => id === jobId && phases.includes(u.phase));
      if (seen) resolve(seen[1]);
      else waiting.push({ jobId, phases, resolve });
    });
  return { ex, updates, until };
}

let n = 0;
function spec(argv: string[], extra: Partial<LaunchSpec> = {}): LaunchSpec {
  const jobId = `job${++n}`;
  const workDir = join(root, jobId);
  mkdirSync(workDir);
  return { jobId, workDir, argv, env: {}, cpus: 1, memoryMb: 0, durationSec: 0, ...extra };
}

const parentOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
};

describe("local executor", () => {
  it("a job is one process: its own executable, a child of the launcher, no shell around it", async () => {
    const { ex, until } = harness();
    try {
      const s = spec(["/bin/sleep", "3"]);
      await ex.submit(s);
      const started = await until(s.jobId, "EXECUTING", "ERROR");
      expect(started.phase).toBe("EXECUTING");
      const { pid } = JSON.parse(started.ref!) as { pid: number };
      leftovers.push(pid);
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean)).toEqual(["/bin/sleep", "3"]);
      expect(parentOf(pid)).toBe(ex.launcherPid());
      // Its own process group (killed as a whole on abort).
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      expect(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2])).toBe(pid);
      await ex.cancel(s.jobId, started.ref!);
      expect((await until(s.jobId, "ABORTED", "ERROR", "COMPLETED")).phase).toBe("ABORTED");
    } finally {
      await ex.close();
    }
  });

  it("the launcher writes the exit status file (0, n, 128 + signal) and reports the status", async () => {
    const { ex, until } = harness();
    try {
      const ok = spec(["/bin/true"]);
      const bad = spec(["/bin/sh", "-c", "exit 3"]);
      const killed = spec(["/bin/sh", "-c", "kill -KILL $$"]);
      for (const s of [ok, bad, killed]) await ex.submit(s);
      expect((await until(ok.jobId, "COMPLETED", "ERROR")).phase).toBe("COMPLETED");
      expect(await until(bad.jobId, "COMPLETED", "ERROR")).toMatchObject({ phase: "ERROR", message: "the command exited with status 3" });
      expect(await until(killed.jobId, "COMPLETED", "ERROR")).toMatchObject({ phase: "ERROR", message: "the command was killed by SIGKILL" });
      expect(readFileSync(join(ok.workDir, ".uws-exit"), "utf8")).toBe("0\n");
      expect(readFileSync(join(bad.workDir, ".uws-exit"), "utf8")).toBe("3\n");
      expect(readFileSync(join(killed.workDir, ".uws-exit"), "utf8")).toBe("137\n");
      expect(existsSync(join(ok.workDir, ".uws-exit.tmp"))).toBe(false);
    } finally {
      await ex.close();
    }
  });

  it("prepares the work dir in the launcher: helper copy keeping its mode, files with their modes", async () => {
    const { ex, until } = harness();
    try {
      const helper = join(root, "helper.sh");
      writeFileSync(helper, "#!/bin/sh\nprintf '%s' \"$1\" > out.txt\ncat .uws-params.json >> out.txt\n");
      chmodSync(helper, 0o755);
      const s = spec([]);
      const local = join(s.workDir, ".uws-bin", "helper.sh");
      s.argv = [local, "a value; $(not run)"];
      s.prepare = {
        dirs: [join(s.workDir, ".uws-bin")],
        files: [
          { path: local, copyFrom: helper },
          { path: join(s.workDir, ".uws-params.json"), text: '{"x":"1"}', mode: 0o644 },
          { path: join(s.workDir, ".uws-callback-header"), text: "Authorization: Bearer t\n", mode: 0o600 },
        ],
      };
      await ex.submit(s);
      expect((await until(s.jobId, "COMPLETED", "ERROR")).phase).toBe("COMPLETED");
      expect(readFileSync(join(s.workDir, "out.txt"), "utf8")).toBe('a value; $(not run){"x":"1"}');
      expect(statSync(local).mode & 0o777).toBe(0o755);
      expect(statSync(join(s.workDir, ".uws-callback-header")).mode & 0o777).toBe(0o600);
    } finally {
      await ex.close();
    }
  });

  it("a job whose work dir was removed before its start fails and is not made again", async () => {
    const { ex, until } = harness();
    try {
      const s = spec(["/bin/true"], {});
      s.prepare = { dirs: [join(s.workDir, ".uws-bin")], files: [] };
      rmSync(s.workDir, { recursive: true });
      await ex.submit(s);
      expect((await until(s.jobId, "COMPLETED", "ERROR")).phase).toBe("ERROR");
      expect(existsSync(s.workDir)).toBe(false);
    } finally {
      await ex.close();
    }
  });

  it("start errors name the file and the fix (not executable, missing); a script without #! runs in sh as before", async () => {
    const { ex, until } = harness();
    try {
      const noExec = join(root, "noexec.sh");
      writeFileSync(noExec, "#!/bin/sh\ntrue\n", { mode: 0o644 });
      const cases: Array<[string, RegExp]> = [
        [noExec, /could not start .*noexec\.sh: permission denied \(the file must be executable: chmod \+x\)/],
        [join(root, "missing"), /could not start .*missing: no such file/],
      ];
      for (const [exe, re] of cases) {
        const s = spec([exe]);
        await ex.submit(s);
        const u = await until(s.jobId, "COMPLETED", "ERROR");
        expect(u.phase, exe).toBe("ERROR");
        expect(u.message, exe).toMatch(re);
      }
      // execvp's fallback (as the wrapper shell's "$@" did): a file without #! runs in /bin/sh.
      const noShebang = join(root, "noshebang");
      writeFileSync(noShebang, "echo ran > ran.txt\n", { mode: 0o755 });
      const s = spec([noShebang]);
      await ex.submit(s);
      expect((await until(s.jobId, "COMPLETED", "ERROR")).phase).toBe("COMPLETED");
      expect(readFileSync(join(s.workDir, "ran.txt"), "utf8")).toBe("ran\n");
    } finally {
      await ex.close();
    }
  });

  it("closed while a job runs, the launcher stays until the job ends, writes its status, then leaves", async () => {
    const { ex, until } = harness();
    const s = spec(["/bin/sh", "-c", "sleep 1; exit 7"]);
    await ex.submit(s);
    const { pid } = JSON.parse((await until(s.jobId, "EXECUTING")).ref!) as { pid: number };
    leftovers.push(pid);
    const launcher = ex.launcherPid()!;
    const t = performance.now();
    await ex.close();
    // close() does not wait for the job.
    expect(performance.now() - t).toBeLessThan(900);
    expect(existsSync(`/proc/${launcher}`)).toBe(true);
    for (let i = 0; i < 100 && existsSync(`/proc/${launcher}`) && !/\) Z /.test(readFileSync(`/proc/${launcher}/stat`, "utf8")); i++) await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(join(s.workDir, ".uws-exit"), "utf8")).toBe("7\n");
    const gone = !existsSync(`/proc/${launcher}`) || /\) Z /.test(readFileSync(`/proc/${launcher}/stat`, "utf8"));
    expect(gone).toBe(true);
  });

  it("a job tracked again after a restart (not the launcher's child) is finished from its status file", async () => {
    // The "previous server": its launcher runs the job; this executor closes at once.
    const first = harness();
    const s = spec(["/bin/sh", "-c", "sleep 1; exit 5"]);
    await first.ex.submit(s);
    const ref = (await first.until(s.jobId, "EXECUTING")).ref!;
    leftovers.push((JSON.parse(ref) as { pid: number }).pid);
    await first.ex.close();
    const second = harness();
    try {
      await second.ex.reattach(s.jobId, ref, s.workDir, () => s);
      expect(await second.until(s.jobId, "COMPLETED", "ERROR")).toMatchObject({ phase: "ERROR", message: "the command exited with status 5" });
    } finally {
      await second.ex.close();
    }
  });
});
