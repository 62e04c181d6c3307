import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { createdByUp, type Cluster, type ClusterNode } from "../model/index.js";

export interface ClusterComputeArgs {
  cluster: Cluster;
  networkId: pulumi.Input<string>;
  subnetId: pulumi.Input<string>;
  securityGroupIds: Record<"internal" | "login", pulumi.Input<string>>;
  /** Public half of the generated keypair (keypair mode generate); the private half never leaves the state dir. */
  publicKey?: string;
  /** cloud-init user-data per node name (non-secret by construction: secrets are pushed over SSH). */
  userData?: Record<string, string>;
}

/** Keypair, server group, one port and one instance per node `up` creates (as stacks/terraform/compute.ts). */
export class ClusterCompute extends pulumi.ComponentResource {
  readonly ports: Record<string, openstack.networking.Port> = {};
  readonly instances: Record<string, openstack.compute.Instance> = {};

  constructor(name: string, args: ClusterComputeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("uws-cluster:openstack:Compute", name, {}, opts);
    const { cluster } = args;
    const child = { parent: this };
    let keyPairName: pulumi.Input<string> = cluster.keypair.name;
    if (cluster.keypair.mode === "generate") {
      if (!args.publicKey) throw new Error("ClusterCompute: keypair mode generate needs args.publicKey");
      keyPairName = new openstack.compute.Keypair("keypair", { name: cluster.keypair.name, publicKey: args.publicKey }, child).name;
    }
    const group = cluster.serverGroup
      ? new openstack.compute.ServerGroup("server-group", { name: cluster.serverGroup.name, policies: [cluster.serverGroup.policy] }, child)
      : undefined;

    // On-demand nodes of an elastic cluster are the power agent's to create (Slurm State=CLOUD).
    for (const node of createdByUp(cluster)) {
      const port = new openstack.networking.Port(`port-${node.name}`, {
        name: node.portName,
        networkId: args.networkId,
        adminStateUp: true,
        // `fixedIps` is the provider's `fixed_ip` block.
        fixedIps: [node.privateIp ? { subnetId: args.subnetId, ipAddress: node.privateIp } : { subnetId: args.subnetId }],
        securityGroupIds: node.securityGroups.map((key) => args.securityGroupIds[key]),
        tags: cluster.tagList,
        description: node.portDescription,
      }, child);
      this.ports[node.name] = port;
      this.instances[node.name] = new openstack.compute.Instance(`instance-${node.name}`, {
        name: node.name,
        ...(node.imageRef.by === "id" ? { imageId: node.imageRef.value } : { imageName: node.imageRef.value }),
        ...(node.flavorRef.by === "id" ? { flavorId: node.flavorRef.value } : { flavorName: node.flavorRef.value }),
        keyPair: keyPairName,
        availabilityZone: cluster.availabilityZone,
        // `networks` is the provider's `network` block.
        networks: [{ port: port.id }],
        metadata: { ...node.metadata },
        tags: cluster.tagList,
        userData: args.userData?.[node.name],
        schedulerHints: group ? [{ group: group.id }] : undefined,
      }, { ...child, dependsOn: [port] });
    }
    this.registerOutputs({});
  }

  head(cluster: Cluster): { node: ClusterNode; port: openstack.networking.Port; instance: openstack.compute.Instance } {
    return { node: cluster.head, port: this.ports[cluster.head.name]!, instance: this.instances[cluster.head.name]! };
  }
}
