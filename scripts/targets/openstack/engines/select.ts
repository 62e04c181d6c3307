import { EngineUnavailableError, type Engine, type EngineName } from "./engine.js";
import { PulumiEngine, requirePulumi } from "./pulumi.js";
import { TerraformEngine, installHint } from "./terraform.js";
import { findExecutable } from "./which.js";

export type EngineChoice = EngineName | "auto";

/**
 * The engine for `--engine`: terraform / tofu / pulumi as named; auto = tofu if found on PATH, else
 * terraform. Looks only at `env.PATH` (and ~/.pulumi/bin for pulumi); throws EngineUnavailableError
 * naming what to install when the tool is missing.
 */
export function selectEngine(name: EngineChoice, env: NodeJS.ProcessEnv): Engine {
  switch (name) {
    case "pulumi":
      return new PulumiEngine(requirePulumi(env));
    case "tofu":
    case "terraform": {
      const bin = findExecutable(name, env);
      if (!bin) throw new EngineUnavailableError(name, [`${name} is not on PATH`], [installHint(name)]);
      return new TerraformEngine(name, bin);
    }
    case "auto": {
      for (const n of ["tofu", "terraform"] as const) {
        const bin = findExecutable(n, env);
        if (bin) return new TerraformEngine(n, bin);
      }
      throw new EngineUnavailableError("terraform/tofu", ["neither tofu nor terraform is on PATH"],
        [installHint("tofu"), installHint("terraform"), "or --engine pulumi with the pulumi CLI and its OpenStack plugin"]);
    }
    default:
      throw new Error(`--engine: expected auto, tofu, terraform or pulumi, got ${JSON.stringify(name)}`);
  }
}
