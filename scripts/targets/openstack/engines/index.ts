/** IaC engines behind one interface: selectEngine(name, env) → Engine (apply / outputs / destroy). */
export * from "./engine.js";
export { selectEngine, type EngineChoice } from "./select.js";
export { type BackendConfig, parseBackendUrl, validateBackend, terraformBackendBlock, pulumiBackendUrl } from "./backend.js";
export { TerraformEngine } from "./terraform.js";
export { isTransient } from "./retry.js";
