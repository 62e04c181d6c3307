// The local executor's launcher: a small Node process, started once by the job server, that
// spawns the jobs so that fork/exec (tens of ms each in a large process) never runs on the
// server's event loop. Plain JavaScript with Node built-ins only: the server starts it with
// `node launcher.mjs` (dist/runtime/launcher.mjs in the bundle).
//
// Protocol (Node IPC channel, one JSON message each way per event):
//   server → launcher  { op: "spawn", jobId, argv, cwd, env, wrapper, wrapperText }
//   launcher → server  { op: "started", jobId, pid, start } | { op: "failed", jobId, message }
//                      { op: "exit", jobId, code, signal }
// Jobs run in their own process group (detached): they outlive the launcher and the server, and a
// restarted server tracks them again by pid and start time.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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

function launch(m) {
  let out;
  let err;
  try {
    writeFileSync(m.wrapper, m.wrapperText, { mode: 0o700 });
    out = openSync(join(m.cwd, "stdout"), "a");
    err = openSync(join(m.cwd, "stderr"), "a");
    const child = spawn("/bin/sh", [m.wrapper, ...m.argv], { cwd: m.cwd, env: m.env, detached: true, stdio: ["ignore", out, err] });
    child.on("error", () => {});
    if (child.pid === undefined) {
      send({ op: "failed", jobId: m.jobId, message: `could not start ${m.argv[0]}` });
      return;
    }
    send({ op: "started", jobId: m.jobId, pid: child.pid, start: procStart(child.pid) });
    child.on("exit", (code, signal) => send({ op: "exit", jobId: m.jobId, code, signal }));
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
// The server went away (closed or crashed): the jobs keep running; the launcher leaves.
process.on("disconnect", () => process.exit(0));
