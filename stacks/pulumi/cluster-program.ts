import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { createdByUp, type Cluster } from "../model/index.js";
import { ClusterCompute } from "./compute.js";
import { ClusterNetwork } from "./network.js";
import { ClusterSecurity } from "./security.js";
import { SharedVolume } from "./storage.js";

export interface ClusterProgramOptions {
  publicKey?: string;
  userData?: Record<string, string>;
}

export interface ClusterProgramArgs extends ClusterProgramOptions {
  cluster: Cluster;
}

/** The stack outputs, named like the Terraform stack's outputs so both engines are read the same way. */
export interface ClusterProgramOutputs {
  head_public_ip: pulumi.Output<string>;
  private_ips: pulumi.Output<Record<string, string>>;
  cluster_id: string;
}

/**
 * The whole cluster as one component: the same resources, names, tags and rules as the Terraform
 * stack (stacks/terraform/cluster-stack.ts). The provider holds no credentials: the
 * pulumi-resource-openstack plugin reads clouds.yaml + OS_CLOUD or OS_* variables at run time.
 */
export class ClusterProgram extends pulumi.ComponentResource {
  readonly outputs: ClusterProgramOutputs;

  /** `name` is the cluster name by convention (clusterProgram passes it). */
  constructor(name: string, args: ClusterProgramArgs, resourceOpts?: pulumi.ComponentResourceOptions) {
    const { cluster } = args;
    const provider = new openstack.Provider("openstack", { region: cluster.region });
    super("uws-cluster:openstack:Cluster", name, {}, { ...resourceOpts, providers: [provider] });
    const child = { parent: this };

    const network = new ClusterNetwork("network", { cluster }, child);
    const security = new ClusterSecurity("security", { cluster }, child);
    const compute = new ClusterCompute("compute", {
      cluster, networkId: network.networkId, subnetId: network.subnetId, securityGroupIds: security.groupIds,
      publicKey: args.publicKey, userData: args.userData,
    }, child);
    const head = compute.head(cluster);
    new SharedVolume("storage", { cluster, headInstanceId: head.instance.id }, child);

    let headPublicIp: pulumi.Output<string> = head.instance.accessIpV4;
    if (cluster.network.mode === "create") {
      const fip = new openstack.networking.FloatingIp("head-fip", {
        pool: cluster.network.externalNetwork, description: cluster.floatingIp.description, tags: cluster.tagList,
      }, child);
      new openstack.networking.FloatingIpAssociate("head-fip-associate", {
        floatingIp: fip.address, portId: head.port.id,
      }, { ...child, dependsOn: network.routerInterface ? [network.routerInterface] : [] });
      headPublicIp = fip.address;
    }

    const privateIps = pulumi.all(Object.fromEntries(createdByUp(cluster).map((n) => [n.name, compute.ports[n.name]!.allFixedIps.apply((ips) => ips[0]!)])));
    this.outputs = { head_public_ip: headPublicIp, private_ips: privateIps, cluster_id: cluster.id };
    this.registerOutputs({ ...this.outputs });
  }
}

/** An inline program for the Automation API: declares the cluster and returns the stack outputs. */
export function clusterProgram(cluster: Cluster, opts: ClusterProgramOptions = {}): () => Promise<ClusterProgramOutputs> {
  return async () => new ClusterProgram(cluster.name, { cluster, ...opts }).outputs;
}
