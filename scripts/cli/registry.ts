/**
 * The CLI's manifest (oclif's): every verb's name and summary, and how to load it. A verb's module —
 * and everything it imports (engines, cdktf, the job server) — is loaded only when that verb runs
 * or shows its --help, so `uws-cluster --help` and the small verbs start in a fraction of a second.
 * A new verb is one file in scripts/cli/commands/ plus one line here.
 */
import type { Command } from "./command.js";

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/** Every verb of the CLI, in the order --help lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: "validate", summary: "check a cluster spec and show what it resolves to", load: async () => (await import("./commands/validate.js")).validate },
  { name: "synth", summary: "write the Terraform/OpenTofu configuration (cdk.tf.json) of a cluster spec", load: async () => (await import("./commands/synth.js")).synth },
  { name: "render", summary: "write what every node gets (user-data, files, secrets as placeholders) to a folder", load: async () => (await import("./commands/render.js")).render },
  { name: "reap", summary: "list the clusters in the OpenStack project by tag and delete those whose expiry has passed", load: async () => (await import("./commands/reap.js")).reap },
  { name: "up", summary: "create a cluster, configure it over SSH and wait until it runs jobs", load: async () => (await import("./commands/up.js")).up },
  { name: "down", summary: "remove a cluster and everything it created (idempotent)", load: async () => (await import("./commands/down.js")).down },
  { name: "status", summary: "show a cluster's nodes, Slurm node states, job server URL, age and TTL", load: async () => (await import("./commands/status.js")).status },
  { name: "ssh", summary: "open a shell (or run a command) on a cluster node", load: async () => (await import("./commands/ssh.js")).ssh },
  { name: "apps", summary: "push a running cluster's applications (job definitions, scripts, packages) again, or list them", load: async () => (await import("./commands/apps.js")).apps },
  { name: "run", summary: "submit a job, follow it until it ends and download its results", load: async () => (await import("./commands/run.js")).run },
  { name: "jobs", summary: "list a cluster's jobs, newest first", load: async () => (await import("./commands/run.js")).jobs },
  { name: "image", summary: "build the machines target's node image (Debian, once; cached outside the checkout)", load: async () => (await import("./commands/image.js")).image },
  { name: "serve", summary: "run the UWS job server (the head node's payload) on this machine", load: async () => (await import("./commands/serve.js")).serve },
];
