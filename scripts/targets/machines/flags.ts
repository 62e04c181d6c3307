import type { TargetFlags } from "../target.js";

/** The machines target adds no flags: its image is built by `uws-cluster image build --target machines`. */
export const machinesFlags: TargetFlags = { up: [], down: [], status: [] };
