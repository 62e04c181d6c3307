// The program: scripts/uws-cluster.mjs imports this file. Tests call runCli() from run.ts instead.
import { runCli } from "./run.js";

process.exitCode = await runCli(process.argv.slice(2));
