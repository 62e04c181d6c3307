/** The `ssh` verb's argv (shared by the targets): recorded host keys only, and a clear answer for on-demand nodes. */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { resolveCluster, validateSpec } from "../../stacks/model/index.js";
import { recordKnownHosts } from "../../scripts/secrets/index.js";
import { ClusterState } from "../../scripts/state/store.js";
import { systemSshArgv } from "../../scripts/targets/ssh-argv.js";
import { tempDir } from "../harness/files.js";
import { cloudSpec } from "../harness/specs.js";

const root = tempDir("ssh-argv");
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("ssh to a node of an elastic cloud cluster", () => {
  const spec = cloudSpec("sa", { ttl: "2h" }) as Record<string, any>;
  spec.compute = { ...spec.compute, min: 1, max: 3 };
  delete spec.compute.count;
  const cluster = resolveCluster(validateSpec(spec));
  const state = new ClusterState(cluster.name, root);
  recordKnownHosts(state, [cluster.head, cluster.computes[0]!].map((n, i) => ({ name: n.name, address: `192.0.2.${10 + i}`, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG0vnYKp8cAcK0e7dUkBM4HnZ4yJ0g5gJtBf2oQJx1Vb" })));

  it("a node up created: through the head, with the recorded host keys and strict checking", () => {
    const argv = systemSshArgv(cluster, state, cluster.computes[0]!, ["hostname"], { jumpThroughHead: true });
    expect(argv).toEqual(expect.arrayContaining(["StrictHostKeyChecking=yes", `${cluster.sshUser}@192.0.2.11`]));
    expect(argv.find((a) => a.startsWith("ProxyCommand="))).toContain(`${cluster.sshUser}@192.0.2.10`);
  });

  it("an on-demand node with no recorded host key: says why and how to reach it instead of a host key failure", () => {
    const node = cluster.computes[2]!;
    expect(node.power).toBe("on-demand");
    expect(() => systemSshArgv(cluster, state, node, [], { jumpThroughHead: true }))
      .toThrow(`${node.name} is an on-demand node (Slurm powers it up when jobs wait) with no host key recorded on this machine: it is powered down, or the head's power agent made it (on a cloud only the agent sees its host key). Reach it through Slurm from the head: uws-cluster ssh head --name sa -- srun -w ${node.name} hostname`);
  });
});
