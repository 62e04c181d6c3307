// Serving a file of a job's work dir (results, uploaded parameters).
import { createReadStream, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import type { FastifyReply } from "fastify";
import { UwsError } from "../jobs/service.js";

/** Streams a file of a job's work dir after checking it resolves inside that dir. */
export function sendFile(reply: FastifyReply, dir: string, rel: string, mime: string) {
  let real: string;
  let root: string;
  try {
    root = realpathSync(dir);
    real = realpathSync(join(dir, rel));
  } catch {
    throw new UwsError(404, `file ${rel} is gone`);
  }
  if (!real.startsWith(root + sep)) throw new UwsError(403, `file ${rel} is outside the job's work dir`);
  const st = statSync(real);
  if (!st.isFile()) throw new UwsError(404, `${rel} is not a file`);
  return reply.type(mime).header("content-length", st.size).send(createReadStream(real));
}
