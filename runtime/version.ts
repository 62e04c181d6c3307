/** Reported by GET /health. */
export const RUNTIME_VERSION = "0.1.0";
