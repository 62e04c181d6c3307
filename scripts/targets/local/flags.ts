import { flags } from "../../cli/flags.js";
import type { TargetFlags } from "../target.js";

export const localFlags: TargetFlags = { up: [flags.installDeps], down: [], status: [] };
