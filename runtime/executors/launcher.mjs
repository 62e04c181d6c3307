// The local executor's launcher: a small Node process, started once by the job server, that
// spawns the jobs so that fork/exec (milliseconds each, more in a large process) never runs on the
// server's event loop. Plain JavaScript with Node built-ins only: the server starts it with
// `node launcher.mjs` (dist/runtime/launcher.mjs in the bundle).
//
// Protocol (Node IPC channel, one JSON message each way per event):
//   server → launcher  { op: "spawn", jobId, argv, cwd, env, prepare? }  (prepare: the job's files,
//                      executor.ts WorkDirFiles, written here so the server's loop does no file I/O)
//   launcher → server  { op: "started", jobId, pid, start } | { op: "failed", jobId, message }
//                      { op: "exit", jobId, code, signal }
// One process per job: the job's own executable, exec'd directly (no shell around it: a process
// creation costs milliseconds here, and a wrapper shell plus its `mv` made three per job). The
// launcher is the job's parent, so it learns the exit status from the kernel and writes it to
// .uws-exit (atomically) before telling the server: a server restarted meanwhile reads it there.
// Jobs run in their own process group (detached). When the server goes away the launcher stays
// until its last job has ended, so that every job's status is still written; a restarted server
// tracks those jobs by pid and start time and reads the file.
import { spawn } from "node:child_process";
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";

const EXIT_FILE = ".uws-exit";

/** Process start time from /proc (clock ticks since boot): tells a live job from a reused pid. */
function procStart(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

const send = (m) => {
  if (process.connected) process.send(m);
};

let live = 0;
const leaveWhenIdle = () => {
  if (!process.connected && live === 0) process.exit(0);
};

/** The shell's convention: a job killed by signal n has status 128 + n. */
function writeExit(cwd, code, signal) {
  const status = code ?? 128 + (constants.signals[signal] ?? 0);
  try {
    writeFileSync(join(cwd, `${EXIT_FILE}.tmp`), `${status}\n`);
    renameSync(join(cwd, `${EXIT_FILE}.tmp`), join(cwd, EXIT_FILE));
  } catch {
    /* work dir removed (job destroyed): nobody will read it */
  }
}

/** spawn's errors, said with their fix. */
const WHY = {
  ENOENT: "no such file (or its #! interpreter is missing)",
  EACCES: "permission denied (the file must be executable: chmod +x)",
};

/** The job's files (executor.ts: prepareWorkDir, same steps). The work dir exists already. */
function prepare(p) {
  for (const d of p.dirs) {
    // Not recursive: a work dir removed meanwhile (job destroyed) is an error, never made again.
    try {
      mkdirSync(d, { mode: 0o755 });
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
    }
  }
  for (const f of p.files) {
    if ("copyFrom" in f) copyFileSync(f.copyFrom, f.path);
    else writeFileSync(f.path, f.text, { mode: f.mode });
  }
}

function launch(m) {
  let out;
  let err;
  try {
    if (m.prepare) prepare(m.prepare);
    out = openSync(join(m.cwd, "stdout"), "a");
    err = openSync(join(m.cwd, "stderr"), "a");
    const child = spawn(m.argv[0], m.argv.slice(1), { cwd: m.cwd, env: m.env, detached: true, stdio: ["ignore", out, err] });
    if (child.pid === undefined) {
      // spawn reports ENOENT/EACCES asynchronously, as an 'error' event.
      child.on("error", (e) => send({ op: "failed", jobId: m.jobId, message: `could not start ${m.argv[0]}: ${WHY[e.code] ?? e.message}` }));
      return;
    }
    child.on("error", () => {});
    live++;
    send({ op: "started", jobId: m.jobId, pid: child.pid, start: procStart(child.pid) });
    child.on("exit", (code, signal) => {
      live--;
      writeExit(m.cwd, code, signal);
      send({ op: "exit", jobId: m.jobId, code, signal });
      leaveWhenIdle();
    });
  } catch (e) {
    send({ op: "failed", jobId: m.jobId, message: `could not start ${m.argv[0]}: ${e.message}` });
  } finally {
    if (out !== undefined) closeSync(out);
    if (err !== undefined) closeSync(err);
  }
}

process.on("message", (m) => {
  if (m && m.op === "spawn") launch(m);
});
// The server went away (closed or crashed): the jobs keep running; the launcher leaves once it
// has written the last one's exit status.
process.on("disconnect", leaveWhenIdle);
