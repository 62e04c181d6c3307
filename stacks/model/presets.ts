import type { AaiPreset } from "./spec.js";

/** Known federated identity providers: issuer and the scopes that carry the claims rules use. */
export const AAI_PRESETS: Record<Exclude<AaiPreset, "generic">, { issuer: string; scopes: string[]; entitlementClaim: string }> = {
  eduteams: {
    issuer: "https://proxy.eduteams.org",
    scopes: ["openid", "profile", "email", "eduperson_entitlement"],
    entitlementClaim: "eduperson_entitlement",
  },
  "egi-checkin": {
    issuer: "https://aai.egi.eu/auth/realms/egi",
    scopes: ["openid", "profile", "email", "eduperson_entitlement"],
    entitlementClaim: "eduperson_entitlement",
  },
  orcid: {
    issuer: "https://orcid.org",
    scopes: ["openid"],
    entitlementClaim: "eduperson_entitlement",
  },
};
