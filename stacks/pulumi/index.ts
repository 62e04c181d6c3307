/** The Pulumi rendering of the resolved Cluster (the same resources as stacks/terraform). */
export { ClusterProgram, clusterProgram, type ClusterProgramOptions, type ClusterProgramOutputs } from "./cluster-program.js";
