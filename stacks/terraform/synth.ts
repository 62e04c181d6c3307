import { App } from "cdktf";
import type { Cluster } from "../model/index.js";
import { ClusterStack, type ClusterStackProps } from "./cluster-stack.js";

export type SynthOptions = Omit<ClusterStackProps, "cluster">;

/**
 * Synthesizes the cluster into Terraform JSON (the content of cdk.tf.json) in memory. No terraform
 * binary and no network are needed; `terraform init && terraform apply` (or tofu) run on the result.
 */
export function synthTerraform(cluster: Cluster, opts: SynthOptions = {}): Record<string, unknown> {
  return withoutStackTraces(() => {
    const app = new App({ skipValidation: true, stackTraces: false, outdir: "/nonexistent-cdktf-out" });
    const stack = new ClusterStack(app, cluster.name, { cluster, ...opts });
    return stack.toTerraform() as Record<string, unknown>;
  });
}

/**
 * cdktf records a full, source-mapped stack trace for every token it creates (only ever shown when a
 * token fails to resolve). That was ~70 % of synth time at 1000 nodes, so while synthesizing (which
 * is synchronous) stack traces format to nothing; the previous formatter is restored afterwards.
 */
function withoutStackTraces<T>(fn: () => T): T {
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = () => "";
  try {
    return fn();
  } finally {
    Error.prepareStackTrace = previous;
  }
}
