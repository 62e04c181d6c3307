/**
 * Entry of the OpenStack power agent (bundled as dist/cli/elastic-openstack-agent.js), run on the
 * head as SlurmUser: `elastic-openstack-agent.js [--config F] [--credential F] [--token F]
 * [--ssh-key F] [--munge-key F] [--listen HOST:PORT] [--host-keys-listen HOST:PORT]
 * [--after-machine ssh|active]`; defaults are the head's files (the model's power.* secrets) and
 * addresses (the host keys' listener on the head's private address, model port hostKeyPort).
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
  else if (k === "--ssh-key") o.sshKey = v;
  else if (k === "--munge-key") o.mungeKey = v;
  else if (k === "--listen" || k === "--host-keys-listen") {
    const m = /^(.+):(\d+)$/.exec(v);
    if (!m) { console.error(`${k} must be HOST:PORT, got ${v}`); process.exit(2); }
    o[k === "--listen" ? "listen" : "hostKeysListen"] = { host: m[1]!, port: Number(m[2]) };
  } else if (k === "--after-machine") {
    if (v !== "active" && v !== "ssh") { console.error(`--after-machine: "ssh" (configure the node as up does, the default) or "active" (stand-in: done when ACTIVE), got ${v}`); process.exit(2); }
    o.afterMachine = v;
  } else { console.error(`unknown option ${k}`); process.exit(2); }
}
const { server } = await runOpenStackAgent(o);
const stop = () => { server.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
