/**
 * Flags shared by the verbs (oclif's flag factories): declared once here, picked by each verb and
 * target, so a flag means the same thing and has the same help everywhere. A verb that needs a
 * more precise help for its use spreads the shared flag: `{ ...flags.out, help: "..." }`.
 */
import type { FlagSpec } from "./args.js";

const OS_CLOUD_HELP = "cloud in clouds.yaml (default: $OS_CLOUD, else the OS_* variables)";

export const flags = {
  spec: { name: "spec", type: "string", help: "cluster spec (YAML or JSON)" },
  /** With a spec: overrides its name (one spec, many clusters); alone: the cluster to act on. */
  name: { name: "name", type: "string", help: "cluster name (alone, or overriding the spec's)" },
  out: { name: "out", type: "string", help: "output folder" },
  installDeps: { name: "install-deps", type: "boolean", help: "local target: install missing Debian packages (as root)" },
  engine: { name: "engine", type: "string", help: "openstack target: auto (tofu, else terraform), tofu, terraform or pulumi", default: "auto" },
  cloud: { name: "cloud", type: "string", help: `openstack target: ${OS_CLOUD_HELP}` },
  cloudAlone: { name: "cloud", type: "string", help: OS_CLOUD_HELP },
  parallelism: { name: "parallelism", type: "string", help: "openstack target: concurrent resource operations of the engine", default: "10" },
  backend: {
    name: "backend", type: "string",
    help: "openstack target: engine state backend: local (default, in the state dir), s3://BUCKET/KEY?endpoint=URL, swift://CONTAINER/KEY?endpoint=URL or an http(s) URL; also $UWS_CLUSTER_BACKEND. Credentials only from the environment",
  },
  dryRun: { name: "dry-run", type: "boolean", help: "show what would be done; change nothing" },
} satisfies Record<string, FlagSpec>;
