import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { renderCluster, TemplateError } from "../../scripts/render/index.js";
import { shellQuote, TemplateSet, templates, yamlScalar } from "../../scripts/render/engine.js";
import { systemdUnitForPath } from "../../scripts/render/systemd.js";
import { systemdStart } from "../../scripts/deploy/vm.js";
import { SERVICE_STAGES, servicesFor } from "../../stacks/model/index.js";
import { addressBook, slurmView } from "../../scripts/render/views.js";
import { ALL_SPECS, example } from "../harness/specs.js";
import { tempDir } from "../harness/files.js";

const root = tempDir("engine");
afterAll(() => rmSync(root, { recursive: true, force: true }));

function set(files: Record<string, string>): TemplateSet {
  const dir = join(root, String(Math.random()).slice(2));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, `${name}.hbs`), text);
  }
  return new TemplateSet(dir);
}

function error(f: () => unknown): TemplateError {
  try {
    f();
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw e;
  }
  throw new Error("no TemplateError");
}

describe("template engine (strict)", () => {
  it("a missing variable names the template file and the variable", () => {
    const e = error(() => set({ "a/b": "x {{node.name}} {{node.cpus}}\n" }).render("a/b", { node: { name: "n" } }));
    expect(e.template).toBe("a/b.hbs");
    expect(e.variable).toBe("node.cpus");
    expect(e.message).toContain("a/b.hbs");
    expect(e.message).toContain("node.cpus");
  });

  it("also inside helper arguments and conditions, which Handlebars' strict mode alone lets through", () => {
    expect(error(() => set({ t: "{{json missing}}" }).render("t", {})).variable).toBe("missing");
    expect(error(() => set({ t: "{{#if dns.name}}x{{/if}}" }).render("t", { dns: {} })).variable).toBe("dns.name");
    expect(error(() => set({ t: "{{#each l}}{{sh v}}{{/each}}" }).render("t", { l: [{ v: 1 }, {}] })).variable).toBe("l.[1].v");
  });

  it("a partial's missing variable names the partial's file", () => {
    const e = error(() => set({ "x/main": "a\n{{> \"y/part\" sub}}\n", "y/part": "{{z}}\n" }).render("x/main", { sub: {} }));
    expect(e.template).toBe("y/part.hbs");
    expect(e.variable).toBe("sub.z"); // the path from the root view
  });

  it("a real template with an incomplete view: slurm.conf without its partition", () => {
    const c = example("openstack");
    const { partition: _p, ...view } = slurmView(c, c.head, addressBook(c));
    const e = error(() => templates().render("slurm/slurm.conf", view));
    expect(e.message).toMatch(/slurm\/slurm\.conf\.hbs.*"partition"/);
  });

  it("a syntax error names the file at load", () => {
    expect(() => set({ "bad/one": "{{#if x}}unclosed" })).toThrow(/bad\/one\.hbs/);
  });

  it("no HTML escaping: values reach config files verbatim", () => {
    expect(set({ t: "{{v}}" }).render("t", { v: "a&b<c>'\"" })).toBe("a&b<c>'\"");
  });

  it("YAML scalars read back exactly (block or quoted)", () => {
    for (const s of ["a\nb\n", "a\nb", "a\n\n\n", " lead\n", "tab\there\n", "trail \n", "", "#!/bin/sh\nset -eu\n", "x: y\n- z\n", "\u0001ctl\n", "é ü\n"]) {
      const doc = parseYaml(`k:\n  - content: ${yamlScalar(s, 6)}\n`);
      expect(doc.k[0].content, JSON.stringify(s)).toBe(s);
    }
  });

  it("shell quoting survives a real shell", () => {
    for (const s of ["plain", "with space", "it's", "$(rm -rf /)", "a\"b`c`", "semi;colon"]) {
      const r = spawnSync("sh", ["-c", `printf %s ${shellQuote(s)}`], { encoding: "utf8" });
      expect(r.stdout).toBe(s);
    }
  });

  it("mount unit names match systemd-escape --path", () => {
    for (const p of ["/shared", "/var/lib/uws-cluster/local-demo/shared", "/data/a.b", "/x_y/1"]) {
      const r = spawnSync("systemd-escape", ["--path", p], { encoding: "utf8" });
      expect(systemdUnitForPath(p)).toBe(r.stdout.trim());
    }
  });

  it("every rendered shell script of every spec parses (sh -n)", () => {
    let n = 0;
    for (const [, make] of ALL_SPECS) {
      for (const b of renderCluster(make())) {
        const services = SERVICE_STAGES.flatMap(({ stage }) => servicesFor(stage, b.node.role));
        const scripts = [systemdStart(services), ...b.files.filter((f) => String(f.content).startsWith("#!/bin/sh")).map((f) => String(f.content))];
        const setup = parseYaml(b.userData).write_files.find((w: { path: string }) => w.path === "/usr/local/sbin/uws-node-setup").content;
        const boot = parseYaml(b.userData).bootcmd[0];
        for (const s of [...scripts, setup, boot]) {
          const r = spawnSync("sh", ["-n"], { input: s, encoding: "utf8" });
          expect(r.status, `${b.node.name}: ${r.stderr}\n${s}`).toBe(0);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(20);
  });
});
