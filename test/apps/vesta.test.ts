// The users' own application path end to end, on a local cluster with real Slurm: the spec
// examples/vesta.yaml as shipped (its app examples/apps/vesta), `up`, then the Vesta EPN-TAP
// workflow through the job server with `uws-cluster run … --wait --out`, against an EPN-TAP service
// of our own on the cluster's bridge address (the real M4AST cannot be reached from here; named
// stand-in: test/apps/epntap-fixture.ts). Every VOTable is checked with the VOTable 1.4 XSD and read
// by astropy, every PNG decoded by matplotlib, the index and the skipped file checked. Then
// `apps push` of changed applications on the running cluster, and definitions `validate` refuses.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import type { Cluster } from "../../stacks/model/index.js";
import { REPO_ROOT } from "../../scripts/deploy/bundle.js";
import { ClusterState } from "../../scripts/state/store.js";
import { cli, type CliResult } from "../harness/cli.js";
import { leftovers, namespaceIds, NOTHING } from "../harness/leftovers.js";
import { EpnTapFixture, vestaGranules } from "./epntap-fixture.js";

const home = join(tmpdir(), `uwsc-vesta-${process.pid}`);
const work = join(home, "work");
const env = { ...process.env, UWS_CLUSTER_HOME: home };
const SPEC = join(REPO_ROOT, "examples/vesta.yaml");
const XSD = readFileSync(join(REPO_ROOT, "test/apps/VOTable-1.4.xsd"), "utf8");
/** Writes a minimal pure-Python wheel (uwsdemo 1.0) into argv[1], as a package index would serve it. */
const WHEEL = `
import sys, zipfile, os
d = sys.argv[1]
files = {
  "uwsdemo/__init__.py": "def hello(who):\\n    return 'hello ' + who + ' from uwsdemo 1.0'\\n",
  "uwsdemo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: uwsdemo\\nVersion: 1.0\\n",
  "uwsdemo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: uws-cluster-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
files["uwsdemo-1.0.dist-info/RECORD"] = "".join(f + ",,\\n" for f in files) + "uwsdemo-1.0.dist-info/RECORD,,\\n"
with zipfile.ZipFile(os.path.join(d, "uwsdemo-1.0-py3-none-any.whl"), "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
`;

describe("the Vesta workflow as a user's application on a local cluster", () => {
  const state = new ClusterState("vesta-demo", home);
  const fixture = new EpnTapFixture(vestaGranules(5));
  let cluster: Cluster;
  let up: CliResult;
  let ns: string[] = [];

  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    up = await cli(["up", "--spec", SPEC, "--json"], env, work);
    cluster = state.readJson<Cluster>("model.json")!;
    ns = cluster ? namespaceIds(cluster) : [];
    // The nodes reach this machine at the bridge address only: the service listens there.
    if (cluster) await fixture.start(cluster.local.hostIp);
  }, 180_000);

  afterAll(async () => {
    await fixture.stop();
    const down = await cli(["down", "--spec", SPEC], env, work);
    expect(down.code, down.stderr).toBe(0);
    if (cluster) expect(leftovers(cluster, state.dir, ns)).toEqual(NOTHING);
    rmSync(home, { recursive: true, force: true });
  }, 60_000);

  it("up deploys the application and says so", () => {
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.json.some((e) => String(e.step ?? "").startsWith("Installing application vesta"))).toBe(true);
    expect(JSON.parse(readFileSync(state.path("apps.json"), "utf8"))[0]).toMatchObject({ name: "vesta", definitions: ["epn-spectra"] });
  });

  it("run epn-spectra --wait --out: VOTables and thumbnails from the service, the malformed file reported", async () => {
    const t0 = performance.now();
    const r = await cli(["run", "epn-spectra", "-p", "target=Vesta", "-p", `services=${fixture.service}`, "--wait", "--out", "vesta/", "--spec", SPEC, "--json"], env, work);
    const wallMs = performance.now() - t0;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const final = r.json[r.json.length - 1]!;
    expect(final).toMatchObject({ ok: true, phase: "COMPLETED" });
    console.log(`Vesta workflow, 5 spectra + 1 malformed, submit → results downloaded: ${(wallMs / 1000).toFixed(1)} s`);
    expect(fixture.queries.some((q) => /FROM m4ast\.epn_core WHERE target_name = 'Vesta'/.test(q))).toBe(true);

    const dir = join(work, "vesta");
    const files = readdirSync(dir).sort();
    const vots = files.filter((f) => /^votable-\d\.vot$/.test(f));
    const pngs = files.filter((f) => /^thumbnail-\d\.png$/.test(f));
    expect(vots).toHaveLength(5);
    expect(pngs).toHaveLength(5);
    expect(files).toEqual(expect.arrayContaining(["index.vot", "report.json", "steps"]));
    for (const f of [...vots, "index.vot"]) {
      const v = await validateXML({ xml: [{ fileName: f, contents: readFileSync(join(dir, f), "utf8") }], schema: [{ fileName: "VOTable-1.4.xsd", contents: XSD }] });
      expect(v.errors, f).toEqual([]);
    }

    const check = JSON.parse(execFileSync("/usr/bin/python3", [join(REPO_ROOT, "test/apps/check_outputs.py"), dir], { encoding: "utf8" }));
    const first = check.votables["votable-1.vot"];
    expect(first.version).toBe("1.4");
    expect(first.fields).toEqual([["wavelength", "um", "em.wl"], ["reflectance", null, "phys.albedo"], ["error", null, "stat.error;phys.albedo"]]);
    expect(first.params).toMatchObject({ target_name: "Vesta", granule_uid: "vesta_spec_1", instrument_name: "SpeX", bib_reference: "2009Icar..202..160D" });
    expect(first.params.access_url).toBe(`${fixture.base}/files/vesta_1.txt`);
    expect(Number(first.params.time_min)).toBeCloseTo(2455001.5);
    expect(first.infos.QUERY).toMatch(/SELECT TOP 20 \* FROM m4ast\.epn_core/);
    expect(first.rows).toBe(40);
    for (const p of pngs) expect(check.pngs[p][0]).toBeGreaterThan(100);
    const index = check.votables["index.vot"];
    expect(index.columns.granule_uid).toEqual(["vesta_spec_1", "vesta_spec_2", "vesta_spec_3", "vesta_spec_4", "vesta_spec_5"]);
    expect(index.columns.votable).toEqual(["votable-1", "votable-2", "votable-3", "votable-4", "votable-5"]);
    expect(index.columns.thumbnail).toEqual(["thumbnail-1", "thumbnail-2", "thumbnail-3", "thumbnail-4", "thumbnail-5"]);
    const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
    expect(report.converted).toBe(5);
    expect(report.skipped).toEqual([expect.objectContaining({ granule_uid: "vesta_broken", reason: expect.stringMatching(/numeric rows/) })]);
  }, 180_000);

  it("a target without spectra ends in ERROR and run exits 1 with the job's own reason", async () => {
    const r = await cli(["run", "epn-spectra", "-p", "target=Ceres", "-p", `services=${fixture.service}`, "--wait", "--spec", SPEC], env, work);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ended in ERROR: .*no spectrum of Ceres could be converted/);
  }, 120_000);

  it("a refused parameter is exit 2 naming the field", async () => {
    const r = await cli(["run", "epn-spectra", "-p", "limit=100000", "--spec", SPEC], env, work);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/limit/);
  }, 60_000);

  it("apps push: new and changed definitions appear, a removed one stops, a running job goes on", async () => {
    // A second application of our own beside a copy of the shipped one, pushed to the running cluster.
    const apps = join(home, "spec2");
    cpSync(join(REPO_ROOT, "examples/apps/vesta"), join(apps, "apps/vesta"), { recursive: true });
    const demo = join(apps, "apps/demo");
    mkdirSync(demo, { recursive: true });
    // Its Python requirement comes from a wheel it ships: the nodes have no package index to reach.
    writeFileSync(join(demo, "app.yaml"), "description: test application\npython:\n  requirements: requirements.txt\n");
    writeFileSync(join(demo, "requirements.txt"), "--no-index\n--find-links wheels\nuwsdemo==1.0\n");
    mkdirSync(join(demo, "wheels"));
    execFileSync("/usr/bin/python3", ["-c", WHEEL, join(demo, "wheels")]);
    writeFileSync(join(demo, "greet.sh"), "#!/bin/sh\nexec \"$UWS_DEFINITION_DIR/.venv/bin/python\" -c 'import sys, uwsdemo; open(\"greeting.txt\", \"w\").write(uwsdemo.hello(sys.argv[1]))' \"$1\"\n", { mode: 0o755 });
    writeFileSync(join(demo, "greet.yaml"), "name: greet\ndescription: greets with the app's own Python package\nparameters:\n  who:\n    type: string\n    default: Vesta\ncommand:\n  executable: ./greet.sh\n  args: [\"{who}\"]\nresults:\n  - name: greeting\n    file: greeting.txt\n    mimeType: text/plain\n");
    writeFileSync(join(demo, "pause.sh"), "#!/bin/sh\nsleep \"$1\"\necho \"paused $1 s\" > paused.txt\n", { mode: 0o755 });
    const pause = (desc: string) => `name: pause\ndescription: ${desc}\nparameters:\n  seconds:\n    type: int\n    default: 1\n    min: 0\n    max: 60\ncommand:\n  executable: ./pause.sh\n  args: ["{seconds}"]\nresults:\n  - name: paused\n    file: paused.txt\n    mimeType: text/plain\n`;
    writeFileSync(join(demo, "pause.yaml"), pause("first version"));
    const spec2 = join(apps, "vesta.yaml");
    writeFileSync(spec2, readFileSync(SPEC, "utf8").replace("  - apps/vesta", "  - apps/vesta\n  - apps/demo"));

    let push = await cli(["apps", "push", "--spec", spec2, "--json"], env, work);
    expect(push.code, push.stdout + push.stderr).toBe(0);
    const defs = async () => (await cli(["jobs", "--spec", spec2, "--json"], env, work)).code;
    expect(await defs()).toBe(0);
    const greet = await cli(["run", "greet", "-p", "who=Ceres", "--wait", "--out", "greet/", "--spec", spec2], env, work);
    expect(greet.code, greet.stdout + greet.stderr).toBe(0);
    expect(readFileSync(join(work, "greet/greeting.txt"), "utf8")).toBe("hello Ceres from uwsdemo 1.0");
    // A job of the first version runs while the second version is pushed.
    const running = await cli(["run", "pause", "-p", "seconds=8", "--spec", spec2, "--json"], env, work);
    expect(running.code, running.stderr).toBe(0);
    const jobId = String(running.json[0]!.jobId);
    writeFileSync(join(demo, "pause.yaml"), pause("second version"));
    rmSync(join(apps, "apps/vesta"), { recursive: true });
    writeFileSync(spec2, readFileSync(spec2, "utf8").replace("  - apps/vesta\n", ""));
    push = await cli(["apps", "push", "--spec", spec2, "--json"], env, work);
    expect(push.code, push.stdout + push.stderr).toBe(0);

    const list = await cli(["apps", "list", "--spec", spec2, "--json"], env, work);
    expect(list.json[0]!.apps).toEqual([expect.objectContaining({ name: "demo", definitions: ["greet", "pause"] })]);
    const url = `http://${cluster.head.privateIp}:${cluster.jobserver.port}`;
    const token = readFileSync(state.path("secrets/jobserver.admin-token"), "utf8").trim();
    const uws = (await (await fetch(`${url}/uws`, { headers: { authorization: `Bearer ${token}` } })).json()) as { definitions: { name: string; description: string }[] };
    expect(uws.definitions.map((d) => d.name)).toContain("pause");
    expect(uws.definitions.map((d) => d.name)).not.toContain("epn-spectra");
    expect(uws.definitions.find((d) => d.name === "pause")!.description).toBe("second version");
    const gone = await cli(["run", "epn-spectra", "--spec", spec2], env, work);
    expect(gone.code).not.toBe(0);
    // The job submitted before the push completes with the files of its own version.
    const job = await fetch(`${url}/uws/pause/${jobId}?WAIT=30&PHASE=EXECUTING`, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
    let doc = (await job.json()) as { phase: string };
    for (let i = 0; i < 6 && !["COMPLETED", "ERROR", "ABORTED"].includes(doc.phase); i++) {
      doc = (await (await fetch(`${url}/uws/pause/${jobId}?WAIT=10&PHASE=${doc.phase}`, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } })).json()) as { phase: string };
    }
    expect(doc.phase).toBe("COMPLETED");
  }, 180_000);
});

describe("validate refuses a bad application before anything is created", () => {
  it("names the file and the field", async () => {
    const dir = join(tmpdir(), `uwsc-badapp-${process.pid}`);
    try {
      mkdirSync(join(dir, "apps/bad"), { recursive: true });
      writeFileSync(join(dir, "apps/bad/app.yaml"), "packages: [python3-astropy]\n");
      writeFileSync(join(dir, "apps/bad/broken.yaml"), "name: broken\nparameters:\n  n:\n    type: integer\ncommand:\n  executable: ./run.sh\n  args: []\n");
      writeFileSync(join(dir, "spec.yaml"), "name: bad-apps\ntarget: local\napps: [apps/bad]\n");
      const r = spawnSync(process.execPath, [join(REPO_ROOT, "scripts/uws-cluster.mjs"), "validate", "--spec", join(dir, "spec.yaml")], { encoding: "utf8", env: { ...env, UWS_CLUSTER_HOME: dir } });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/apps\/bad\/broken\.yaml: parameters\.n\.type: must be one of/);
      writeFileSync(join(dir, "apps/bad/app.yaml"), "packages: ['bad package']\n");
      const r2 = spawnSync(process.execPath, [join(REPO_ROOT, "scripts/uws-cluster.mjs"), "validate", "--spec", join(dir, "spec.yaml")], { encoding: "utf8", env: { ...env, UWS_CLUSTER_HOME: dir } });
      expect(r2.stderr).toMatch(/app\.yaml: packages\[0\]: must be a Debian package name/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
