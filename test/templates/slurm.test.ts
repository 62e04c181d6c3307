/**
 * slurm.conf checked by a real slurmctld: the shipped template rendered by the Slurm harness
 * (test/harness/slurm.ts) with its loopback overrides (LOOPBACK_KEYS: controller, ports, paths,
 * munge socket; loopback NodeAddr), munged on a private socket. slurmd is not started: nodes stay
 * UNKNOWN, which is enough to prove slurmctld accepted every NodeName and the partition.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Cluster } from "../../stacks/model/index.js";
import { renderCluster } from "../../scripts/render/index.js";
import { LOOPBACK_KEYS, renderLoopbackSlurm, scontrol, startMunged, startSlurmctld } from "../harness/slurm.js";
import { stopDaemons, type Daemon } from "../harness/daemons.js";
import { example, openstackCluster } from "../harness/specs.js";
import { tempDir } from "../harness/files.js";

const root = tempDir("slurm");
const running: Daemon[] = [];
afterEach(async () => {
  await stopDaemons(running.splice(0));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const OVERRIDDEN = new RegExp(`^(${LOOPBACK_KEYS.join("|")})=`);

describe("slurm.conf accepted by a real slurmctld", () => {
  const cases: [string, () => Cluster][] = [
    ["examples/openstack.yaml (cloud: cgroup plugins)", () => example("openstack")],
    ["examples/local.yaml (local: linuxproc, config_overrides)", () => example("local")],
    ["a cloud cluster of 5 compute nodes", () => openstackCluster({ name: "t-five", compute: { count: 5, flavor: "m1.small", cpus: 1, memoryMb: 2048 } })],
  ];
  for (const [label, make] of cases) {
    it(label, async () => {
      const c = make();
      const dir = join(root, c.name);
      const munge = await startMunged(dir);
      running.push(munge);
      const conf = await renderLoopbackSlurm(c, dir, { mungeSocket: munge.socket });

      // Same template as the node gets: only the loopback overrides and NodeAddr differ.
      const shipped = renderCluster(c)[0]!.files.find((f) => f.path === "/etc/slurm/slurm.conf")!.content as string;
      const strip = (s: string) => s.split("\n").filter((l) => !OVERRIDDEN.test(l)).map((l) => l.replace(/ NodeAddr=\S+/, ""));
      expect(strip(conf.text)).toEqual(strip(shipped));

      running.push(await startSlurmctld(conf));
      const nodes = scontrol(conf, ["show", "nodes", "--oneliner"]).trim().split("\n");
      expect(nodes.map((l) => /NodeName=(\S+)/.exec(l)![1])).toEqual(c.computes.map((n) => n.name));
      for (const n of c.computes) {
        const line = nodes.find((l) => l.startsWith(`NodeName=${n.name} `))!;
        expect(line).toContain(`CPUTot=${n.cpus} `);
        expect(line).toContain(`RealMemory=${n.realMemoryMb} `);
        expect(line).toContain(`Partitions=${c.slurm.partition} `);
      }
      const config = scontrol(conf, ["show", "config"]);
      expect(config).toMatch(/ReturnToService\s+= 2/);
      expect(config).toMatch(/SchedulerParameters\s+= batch_sched_delay=0,sched_min_interval=0/);
      expect(config).toMatch(/JobCompType\s+= jobcomp\/filetxt/);
      expect(config).toMatch(/MailProg\s+= \/bin\/true/);
      expect(config).toMatch(new RegExp(`ClusterName\\s+= ${c.slurm.clusterName}\\n`));
      if (c.target === "local") {
        expect(config).toMatch(/ProctrackType\s+= proctrack\/linuxproc/);
        expect(config).toMatch(/SlurmdParameters\s+= config_overrides/);
        expect(config).toMatch(/SlurmdTimeout\s+= 10 sec/);
      } else {
        expect(config).toMatch(/ProctrackType\s+= proctrack\/cgroup/);
        expect(config).toMatch(/TaskPlugin\s+= task\/cgroup,task\/affinity/);
      }
      const part = scontrol(conf, ["show", "partition", c.slurm.partition, "--oneliner"]);
      expect(part).toContain("Default=YES");
      expect(part).toContain(`TotalNodes=${c.computes.length} `);
    });
  }

  it("a broken slurm.conf is refused (the check above can fail)", async () => {
    const c = example("openstack");
    const dir = join(root, "broken");
    const munge = await startMunged(dir);
    running.push(munge);
    const conf = await renderLoopbackSlurm(c, dir, { mungeSocket: munge.socket, extra: "NodeName=eosc-demo-compute-1 CPUs=notanumber\n" });
    await expect(startSlurmctld(conf)).rejects.toThrow(/slurmctld \(pid \d+\) exited/);
  });
});
