/**
 * Entry of the local power agent process (bundled as dist/cli/elastic-agent.js): `elastic-agent.js
 * STATE_ROOT CLUSTER_NAME`. Started by `up` for an elastic local cluster, stopped by `down` (by PID).
 */
import { runLocalAgent } from "./local-agent.js";

const [root, name] = process.argv.slice(2);
if (!root || !name) {
  console.error("usage: elastic-agent STATE_ROOT CLUSTER_NAME");
  process.exit(2);
}
await runLocalAgent(root, name);
