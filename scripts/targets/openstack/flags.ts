import { flags } from "../../cli/flags.js";
import type { TargetFlags } from "../target.js";

export const openstackFlags: TargetFlags = {
  up: [flags.engine, flags.cloud, flags.parallelism, flags.backend],
  down: [
    { ...flags.engine, help: "openstack target: the engine that created it (auto: tofu, else terraform)" },
    flags.cloud,
    { ...flags.backend, help: "openstack target: the engine state backend given to up (or $UWS_CLUSTER_BACKEND)" },
  ],
  status: [flags.cloud],
};
