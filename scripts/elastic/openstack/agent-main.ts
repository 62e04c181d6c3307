/**
 * Entry of the OpenStack power agent (bundled as dist/cli/elastic-openstack-agent.js), run on the
 * head as SlurmUser: `elastic-openstack-agent.js [--config F] [--credential F] [--token F]
 * [--listen HOST:PORT] [--after-machine active]`; defaults are the head's files.
 */
import { runOpenStackAgent, type AgentOptions } from "./agent.js";

const args = process.argv.slice(2);
const o: AgentOptions = {};
for (let i = 0; i < args.length; i += 2) {
  const [k, v] = [args[i], args[i + 1]];
  if (v === undefined) { console.error(`${k} needs a value`); process.exit(2); }
  if (k === "--config") o.config = v;
  else if (k === "--credential") o.credential = v;
  else if (k === "--token") o.token = v;
  else if (k === "--listen") {
    const m = /^(.+):(\d+)$/.exec(v);
    if (!m) { console.error(`--listen must be HOST:PORT, got ${v}`); process.exit(2); }
    o.listen = { host: m[1]!, port: Number(m[2]) };
  } else if (k === "--after-machine") {
    if (v !== "active") { console.error(`--after-machine: only "active" exists, got ${v}`); process.exit(2); }
    o.afterMachine = v;
  } else { console.error(`unknown option ${k}`); process.exit(2); }
}
const { server } = await runOpenStackAgent(o);
const stop = () => { server.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
