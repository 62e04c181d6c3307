/** The Pulumi rendering of the resolved Cluster (the same resources as stacks/terraform). */
export { ClusterProgram, clusterProgram, type ClusterProgramArgs, type ClusterProgramOptions, type ClusterProgramOutputs } from "./cluster-program.js";
