import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { Cluster } from "../model/index.js";

export interface ClusterSecurityArgs {
  cluster: Cluster;
}

/** The cluster's security groups and rules, exactly as the model lists them (as stacks/terraform/security.ts). */
export class ClusterSecurity extends pulumi.ComponentResource {
  /** Security group id by model key (internal, login). */
  readonly groupIds: Record<"internal" | "login", pulumi.Output<string>>;

  constructor(name: string, args: ClusterSecurityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("uws-cluster:openstack:Security", name, {}, opts);
    const { cluster } = args;
    const child = { parent: this };
    const groups = Object.fromEntries(cluster.securityGroups.map((g) => [g.key, new openstack.networking.SecGroup(`sg-${g.key}`, {
      name: g.name, description: g.description, tags: cluster.tagList,
    }, child)])) as Record<"internal" | "login", openstack.networking.SecGroup>;
    this.groupIds = { internal: groups.internal.id, login: groups.login.id };
    for (const r of cluster.securityRules) {
      new openstack.networking.SecGroupRule(`rule-${r.id}`, {
        securityGroupId: groups[r.group].id,
        direction: r.direction,
        ethertype: r.ethertype,
        protocol: r.protocol,
        portRangeMin: r.portMin,
        portRangeMax: r.portMax,
        remoteIpPrefix: r.remoteCidr,
        remoteGroupId: r.remoteGroup ? groups[r.remoteGroup].id : undefined,
        description: r.description,
      }, child);
    }
    this.registerOutputs({ groupIds: this.groupIds });
  }
}
