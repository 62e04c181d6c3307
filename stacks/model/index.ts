/** The cluster model: spec (what a user writes) → validated ClusterSpec → resolved Cluster. */
export * from "./errors.js";
export * from "./spec.js";
export * from "./model.js";
export * from "./naming.js";
export { parseSpec, validateSpec, NAME_PATTERN, MAX_COMPUTE, FIRST_NODE_OFFSET } from "./validate.js";
export { resolveCluster, generateClusterId, GENERATED_ID_PATTERN, type ResolveContext } from "./resolve.js";
export { parseDuration } from "./duration.js";
export { AAI_PRESETS } from "./presets.js";
export * from "./services.js";
