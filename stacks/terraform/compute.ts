import { Construct } from "constructs";
import { createdByUp, type Cluster, type ClusterNode } from "../model/index.js";
import { ComputeInstanceV2, ComputeKeypairV2, ComputeServergroupV2, NetworkingPortV2 } from "./bindings.js";

export interface ClusterComputeProps {
  cluster: Cluster;
  networkId: string;
  subnetId: string;
  securityGroupIds: Record<"internal" | "login", string>;
  /** Public half of the generated keypair (keypair mode generate); the private half never leaves the state dir. */
  publicKey?: string;
  /** cloud-init user-data per node name (non-secret by construction: secrets are pushed over SSH). */
  userData?: Record<string, string>;
}

/** Keypair, server group, one port and one instance per node `up` creates. */
export class ClusterCompute extends Construct {
  readonly ports: Record<string, NetworkingPortV2> = {};
  readonly instances: Record<string, ComputeInstanceV2> = {};

  constructor(scope: Construct, id: string, props: ClusterComputeProps) {
    super(scope, id);
    const { cluster } = props;
    let keyPairName = cluster.keypair.name;
    if (cluster.keypair.mode === "generate") {
      if (!props.publicKey) throw new Error("ClusterCompute: keypair mode generate needs props.publicKey");
      keyPairName = new ComputeKeypairV2(this, "keypair", { name: cluster.keypair.name, publicKey: props.publicKey }).name;
    }
    const group = cluster.serverGroup
      ? new ComputeServergroupV2(this, "server-group", { name: cluster.serverGroup.name, policies: [cluster.serverGroup.policy] })
      : undefined;

    // On-demand nodes of an elastic cluster are the power agent's to create (Slurm State=CLOUD).
    for (const node of createdByUp(cluster)) {
      const port = new NetworkingPortV2(this, `port-${node.name}`, {
        name: node.portName,
        networkId: props.networkId,
        adminStateUp: true,
        fixedIp: [node.privateIp ? { subnetId: props.subnetId, ipAddress: node.privateIp } : { subnetId: props.subnetId }],
        securityGroupIds: node.securityGroups.map((key) => props.securityGroupIds[key]),
        tags: cluster.tagList,
        description: node.portDescription,
      });
      this.ports[node.name] = port;
      this.instances[node.name] = new ComputeInstanceV2(this, `instance-${node.name}`, {
        name: node.name,
        ...(node.imageRef.by === "id" ? { imageId: node.imageRef.value } : { imageName: node.imageRef.value }),
        ...(node.flavorRef.by === "id" ? { flavorId: node.flavorRef.value } : { flavorName: node.flavorRef.value }),
        keyPair: keyPairName,
        availabilityZone: cluster.availabilityZone,
        network: [{ port: port.id }],
        metadata: { ...node.metadata },
        tags: cluster.tagList,
        userData: props.userData?.[node.name],
        schedulerHints: group ? [{ group: group.id }] : undefined,
        dependsOn: [port],
      });
    }
  }

  head(cluster: Cluster): { node: ClusterNode; port: NetworkingPortV2; instance: ComputeInstanceV2 } {
    return { node: cluster.head, port: this.ports[cluster.head.name]!, instance: this.instances[cluster.head.name]! };
  }
}
