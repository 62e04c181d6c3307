/**
 * slurm.conf checked by a real slurmctld: the same template rendered with a loopback variant of the
 * view (SlurmctldHost=localhost, loopback node addresses, free ports, every path in a temp folder,
 * munged on a private socket). slurmd is not started: nodes stay UNKNOWN, which is enough to prove
 * slurmctld accepted every NodeName and the partition.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Cluster } from "../../stacks/model/index.js";
import { renderCluster } from "../../scripts/render/index.js";
import { templates } from "../../scripts/render/engine.js";
import { addressBook, slurmView } from "../../scripts/render/views.js";
import { cluster, example } from "../render/fixtures.js";
import { freePort, scontrol, startMunged, startSlurmctld, tempDir, type Daemon } from "./tools.js";

const root = tempDir("slurm");
const running: Daemon[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Overrides applied to the model's view so the config runs on loopback in `dir`. */
async function loopbackConf(c: Cluster, dir: string, mungeSocket: string, extra = ""): Promise<{ conf: string; text: string; log: string }> {
  for (const d of ["state", "spool", "log"]) mkdirSync(join(dir, d), { recursive: true });
  const view = slurmView(c, c.head, addressBook(c));
  const log = join(dir, "log", "slurmctld.log");
  const text = templates().render("slurm/slurm.conf", {
    ...view,
    controller: { name: "localhost", addr: null },
    ports: { slurmctld: await freePort(), slurmd: await freePort() },
    slurmUser: "root",
    authInfo: `socket=${mungeSocket}`,
    paths: {
      ...view.paths,
      stateSave: join(dir, "state"), slurmdSpool: join(dir, "spool"), slurmctldPid: join(dir, "slurmctld.pid"), slurmdPid: join(dir, "slurmd.pid"),
      logDir: join(dir, "log"), slurmctldLog: log, slurmdLog: join(dir, "log", "slurmd.log"), jobComp: join(dir, "log", "jobcomp.log"),
    },
    computes: view.computes.map((n, i) => ({ ...n, addr: `127.0.${Math.floor((i + 2) / 250)}.${((i + 2) % 250) + 1}` })),
  }) + extra;
  const conf = join(dir, "slurm.conf");
  writeFileSync(conf, text);
  return { conf, text, log };
}

const OVERRIDDEN = /^(SlurmctldHost|SlurmctldPort|SlurmdPort|SlurmUser|AuthInfo|StateSaveLocation|SlurmdSpoolDir|Slurm(ctld|d)PidFile|Slurm(ctld|d)LogFile|JobCompLoc)=/;

describe("slurm.conf accepted by a real slurmctld", () => {
  const cases: [string, () => Cluster][] = [
    ["examples/openstack.yaml (cloud: cgroup plugins)", () => example("openstack")],
    ["examples/local.yaml (local: linuxproc, config_overrides)", () => example("local")],
    ["a cloud cluster of 5 compute nodes", () => cluster({ name: "t-five", compute: { count: 5, flavor: "m1.small", cpus: 1, memoryMb: 2048 } })],
  ];
  for (const [label, make] of cases) {
    it(label, async () => {
      const c = make();
      const dir = join(root, c.name);
      const munge = await startMunged(dir);
      running.push(munge);
      const { conf, text, log } = await loopbackConf(c, dir, munge.socket);

      // Same template as the node gets: only the loopback overrides and NodeAddr differ.
      const shipped = renderCluster(c)[0]!.files.find((f) => f.path === "/etc/slurm/slurm.conf")!.content as string;
      const strip = (s: string) => s.split("\n").filter((l) => !OVERRIDDEN.test(l)).map((l) => l.replace(/ NodeAddr=\S+/, ""));
      expect(strip(text)).toEqual(strip(shipped));

      running.push(await startSlurmctld(conf, log));
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
    const { conf, log } = await loopbackConf(c, dir, munge.socket, "NodeName=eosc-demo-compute-1 CPUs=notanumber\n");
    await expect(startSlurmctld(conf, log)).rejects.toThrow(/slurmctld exited/);
  });
});
