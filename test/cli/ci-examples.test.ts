// The CI pipeline examples: valid YAML, every shell block valid shell (bash -n), each run gets its
// own cluster name, down runs whatever happened, a nightly reap exists, and no secret is passed
// between jobs as a plain variable.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const bashOk = (script: string) => execFileSync("bash", ["-n"], { input: script.replace(/\$\{\{[^}]*\}\}/g, "X") });

describe("examples/ci", () => {
  it("GitHub Actions: unique name, up, a UWS job, down always, nightly reap", () => {
    const wf = parse(readFileSync("examples/ci/github-actions.yml", "utf8"));
    expect(wf.env.CLUSTER).toMatch(/github\.run_id/);
    const steps = wf.jobs["cluster-test"].steps as { name?: string; run?: string; if?: string }[];
    for (const s of steps) if (s.run) bashOk(s.run);
    const down = steps.find((s) => s.run?.includes("uws-cluster.mjs down"))!;
    expect(down.if).toBe("always()");
    expect(steps.some((s) => s.run?.includes("uws-cluster.mjs up"))).toBe(true);
    expect(steps.some((s) => /uws-cluster\.mjs run hello .*--wait/.test(s.run ?? "") && s.run!.includes('--name "$CLUSTER"'))).toBe(true);
    expect(steps.some((s) => /curl .*\/uws\//.test(s.run ?? ""))).toBe(false);
    expect(wf.on.schedule[0].cron).toBeTruthy();
    expect(wf.jobs.reap.steps.some((s: { run?: string }) => s.run?.includes("reap"))).toBe(true);
  });

  it("GitLab CI: unique name, down in .post when: always, reap on schedule, token not in dotenv", () => {
    const text = readFileSync("examples/ci/gitlab-ci.yml", "utf8");
    const ci = parse(text);
    expect(ci.variables.CLUSTER).toMatch(/CI_PIPELINE_ID/);
    for (const job of ["up", "job", "down", "reap"]) for (const line of ci[job].script as string[]) bashOk(line);
    expect(ci.down.stage).toBe(".post");
    expect(ci.down.rules[0].when).toBe("always");
    expect(ci.reap.script.join("\n")).toContain("reap");
    expect(ci.up.script.join("\n")).not.toMatch(/TOKEN=/);
    expect(ci.job.script.join("\n")).toMatch(/uws-cluster\.mjs run hello .*--wait/);
    expect(ci.job.script.join("\n")).not.toMatch(/curl/);
  });
});
