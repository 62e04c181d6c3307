/** IaC engines behind one interface: selectEngine(name, env) → Engine (apply / outputs / destroy). */
export * from "./engine.js";
export { selectEngine, type EngineChoice } from "./select.js";
export { type BackendConfig, BACKEND_CREDENTIALS, parseBackendUrl, validateBackend, terraformBackendBlock, pulumiBackendUrl, stateKey } from "./backend.js";
export { TerraformEngine, CONFIG_FILE } from "./terraform.js";
export { PulumiEngine, findPulumi, pulumiInstallHints, openstackPluginVersion } from "./pulumi.js";
export { TRANSIENT_PATTERNS, PERMANENT_PATTERNS, isTransient } from "./retry.js";
