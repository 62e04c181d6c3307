/**
 * Runs the Pulumi program under `pulumi.runtime.setMocks` (no CLI, no plugin, no cloud) and records
 * every resource registration and data-source call with its resolved inputs.
 *
 * Mock ids and computed attributes are written as `ref:<terraform type>:<identity>[.attr]`, the form
 * parity.ts also rewrites Terraform's `${type.res.attr}` references into, so references between
 * resources compare equal across the two engines.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Cluster } from "../../stacks/model/index.js";
import { ClusterProgram, type ClusterProgramOptions } from "../../stacks/pulumi/index.js";
import { PULUMI_TO_TERRAFORM } from "./type-map.js";

export interface MockResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  id: string;
}
export interface MockCall {
  token: string;
  inputs: Record<string, any>;
}
export interface MockRun {
  resources: MockResource[];
  calls: MockCall[];
  outputs: Record<string, unknown>;
}

/** The identity a resource is known by: its OpenStack name, else its logical (construct) name. */
export function identityOf(name: string | undefined, logical: string): string {
  return name ?? logical;
}

export async function runProgramWithMocks(cluster: Cluster, opts: ClusterProgramOptions): Promise<MockRun> {
  const resources: MockResource[] = [];
  const calls: MockCall[] = [];
  await pulumi.runtime.setMocks({
    newResource(args) {
      const tf = PULUMI_TO_TERRAFORM[args.type];
      const ident = identityOf(args.inputs.name, args.name);
      const id = tf ? `ref:${tf}:${ident}` : `${args.name}-id`;
      const state: Record<string, unknown> = { ...args.inputs };
      // Computed attributes the program reads from other resources.
      if (args.type === "openstack:networking/port:Port") {
        state.allFixedIps = (args.inputs.fixedIps ?? []).map((f: any, i: number) => f.ipAddress ?? `${id}.all_fixed_ips.${i}`);
      }
      if (args.type === "openstack:networking/floatingIp:FloatingIp") state.address = `${id}.address`;
      if (args.type === "openstack:compute/instance:Instance") state.accessIpV4 = `${id}.access_ip_v4`;
      resources.push({ type: args.type, name: args.name, inputs: args.inputs, id });
      return { id, state };
    },
    call(args) {
      calls.push({ token: args.token, inputs: args.inputs });
      const tf = PULUMI_TO_TERRAFORM[args.token];
      const i = args.inputs;
      return { ...i, id: `ref:${tf}:${i.name ?? i.subnetId ?? i.networkId}` };
    },
  }, "uws-cluster", cluster.name, false);

  try {
    const program = new ClusterProgram(cluster.name, { cluster, ...opts });
    const outputs = await resolveAll(program.outputs as unknown as Record<string, unknown>);
    return { resources, calls, outputs };
  } finally {
    // Registrations finish asynchronously: counting before disconnect() misses some (see iac.md), and
    // a run that threw must not leave registrations pending for the next run's mock monitor.
    await pulumi.runtime.disconnect();
  }
}

async function resolveAll(obj: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = pulumi.Output.isInstance(v) ? await new Promise((resolve) => (v as pulumi.Output<unknown>).apply((x) => { resolve(x); return x; })) : v;
  }
  return out;
}
