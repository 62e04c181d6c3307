/**
 * Every target: its flags (cheap, for parsing and --help) and its code, loaded only when a cluster
 * needs it (the cloud target pulls in the engines). A new target is one folder under
 * scripts/targets/ and one line here.
 */
import type { Target as TargetName } from "../../stacks/model/index.js";
import type { FlagSpec } from "../cli/args.js";
import { localFlags } from "./local/flags.js";
import { machinesFlags } from "./machines/flags.js";
import { openstackFlags } from "./openstack/flags.js";
import type { Target, TargetFlags } from "./target.js";

const TARGETS: Record<TargetName, { flags: TargetFlags; load: () => Promise<Target> }> = {
  local: { flags: localFlags, load: async () => (await import("./local/index.js")).localTarget },
  openstack: { flags: openstackFlags, load: async () => (await import("./openstack/index.js")).openstackTarget },
  machines: { flags: machinesFlags, load: async () => (await import("./machines/index.js")).machinesTarget },
};

export const TARGET_NAMES = Object.keys(TARGETS) as TargetName[];

export function loadTarget(name: TargetName): Promise<Target> {
  const entry = TARGETS[name];
  if (!entry) throw new Error(`no target "${name}"; known: ${TARGET_NAMES.join(", ")}`);
  return entry.load();
}

/** Every target's flags for a verb, each once (a verb accepts them all; a target reads its own). */
export function targetFlags(verb: keyof TargetFlags): FlagSpec[] {
  const out = new Map<string, FlagSpec>();
  for (const t of Object.values(TARGETS)) for (const f of t.flags[verb]) if (!out.has(f.name)) out.set(f.name, f);
  return [...out.values()];
}
