// oidc-provider ships no TypeScript types; the tests use a small, untyped part of it.
declare module "oidc-provider";
