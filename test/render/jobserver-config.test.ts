/** The rendered job server config is read by the job server's own config loader (runtime/config.ts). */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfigFile, validateConfig } from "../../runtime/config.js";
import { readTokensFile } from "../../runtime/auth/tokens.js";
import { renderCluster } from "../../scripts/render/index.js";
import { tempDir } from "../harness/files.js";
import { ALL_SPECS, openstackCluster } from "../harness/specs.js";

const root = tempDir("jscfg");
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("job server config.yaml against the job server's loader", () => {
  const specs = [...ALL_SPECS, ["auth none", () => openstackCluster({ name: "t-none", jobserver: { auth: "none" } })] as const];
  for (const [label, make] of specs) {
    it(label, () => {
      const c = make();
      const head = renderCluster(c, { headPublicIp: "198.51.100.7" })[0]!;
      const file = join(root, `${c.name}.yaml`);
      writeFileSync(file, String(head.files.find((f) => f.path === `${c.jobserver.configDir}/config.yaml`)!.content));
      const cfg = validateConfig(loadConfigFile(file));
      expect(cfg).toMatchObject({ port: c.jobserver.port, executor: "slurm", auth: c.jobserver.auth, uploadLimitMb: c.jobserver.uploadLimitMb });
      expect(cfg.slurm.partition).toBe(c.slurm.partition);
      if (c.aai) expect(cfg.oidc).toMatchObject({ issuer: c.aai.issuer, audience: c.aai.clientId });
      if (c.jobserver.auth === "tokens") {
        // The shipped tokens file (comments only) parses as "no extra tokens".
        const tokens = head.files.find((f) => f.path === cfg.tokensFile)!;
        const tokensFile = join(root, `${c.name}.tokens`);
        writeFileSync(tokensFile, tokens.content);
        expect(readTokensFile(tokensFile).size).toBe(0);
      }
    });
  }
});
