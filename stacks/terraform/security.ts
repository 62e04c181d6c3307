import { Construct } from "constructs";
import type { Cluster } from "../model/index.js";
import { NetworkingSecgroupRuleV2, NetworkingSecgroupV2 } from "./bindings.js";

export interface ClusterSecurityProps {
  cluster: Cluster;
}

/** The cluster's security groups and rules, exactly as the model lists them. */
export class ClusterSecurity extends Construct {
  /** Security group id by model key (internal, login). */
  readonly groupIds: Record<"internal" | "login", string>;

  constructor(scope: Construct, id: string, props: ClusterSecurityProps) {
    super(scope, id);
    const { cluster } = props;
    const groups = Object.fromEntries(cluster.securityGroups.map((g) => [g.key, new NetworkingSecgroupV2(this, `sg-${g.key}`, {
      name: g.name, description: g.description, tags: cluster.tagList,
    })])) as Record<"internal" | "login", NetworkingSecgroupV2>;
    this.groupIds = { internal: groups.internal.id, login: groups.login.id };
    for (const r of cluster.securityRules) {
      new NetworkingSecgroupRuleV2(this, `rule-${r.id}`, {
        securityGroupId: groups[r.group].id,
        direction: r.direction,
        ethertype: r.ethertype,
        protocol: r.protocol,
        portRangeMin: r.portMin,
        portRangeMax: r.portMax,
        remoteIpPrefix: r.remoteCidr,
        remoteGroupId: r.remoteGroup ? groups[r.remoteGroup].id : undefined,
        description: r.description,
      });
    }
  }
}
