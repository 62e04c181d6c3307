import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { Cluster } from "../model/index.js";

export interface ClusterNetworkArgs {
  cluster: Cluster;
}

/**
 * The cluster's network: created (network, subnet, router with gateway and interface) or reused.
 * Mirrors stacks/terraform/network.ts resource for resource (the parity test compares them).
 */
export class ClusterNetwork extends pulumi.ComponentResource {
  readonly networkId: pulumi.Output<string>;
  readonly subnetId: pulumi.Output<string>;
  /** Present when the network is created: a floating IP can be associated only once it exists. */
  readonly routerInterface?: openstack.networking.RouterInterface;

  constructor(name: string, args: ClusterNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("uws-cluster:openstack:Network", name, {}, opts);
    const { cluster } = args;
    const net = cluster.network;
    const child = { parent: this };
    if (net.mode === "existing") {
      // Looked up as the model says: by id or by name.
      const { networkRef: n, subnetRef: s } = net;
      const existingNet = openstack.networking.getNetworkOutput(n.by === "id" ? { networkId: n.value } : { name: n.value }, child);
      const existingSub = openstack.networking.getSubnetOutput({
        ...(s.by === "id" ? { subnetId: s.value } : { name: s.value }), networkId: existingNet.id,
      }, child);
      this.networkId = existingNet.id;
      this.subnetId = existingSub.id;
      this.registerOutputs({ networkId: this.networkId, subnetId: this.subnetId });
      return;
    }
    const network = new openstack.networking.Network("network", {
      name: net.networkName, adminStateUp: true, tags: cluster.tagList, description: cluster.description,
    }, child);
    // Node addresses are fixed by the model; DHCP and router ports stay in the model's allocation pool.
    const subnet = new openstack.networking.Subnet("subnet", {
      name: net.subnetName, networkId: network.id, cidr: net.cidr, ipVersion: 4, gatewayIp: net.gatewayIp,
      dnsNameservers: net.dnsServers, enableDhcp: true, tags: cluster.tagList, description: cluster.description,
      // `allocationPools` is the provider's `allocation_pool` block (v1.54 and v3 alike).
      allocationPools: [net.allocationPool],
    }, child);
    const external = openstack.networking.getNetworkOutput({ name: net.externalNetwork, external: true }, child);
    const router = new openstack.networking.Router("router", {
      name: net.routerName, adminStateUp: true, externalNetworkId: external.id, tags: cluster.tagList, description: cluster.description,
    }, child);
    this.routerInterface = new openstack.networking.RouterInterface("router-interface", { routerId: router.id, subnetId: subnet.id }, child);
    this.networkId = network.id;
    this.subnetId = subnet.id;
    this.registerOutputs({ networkId: this.networkId, subnetId: this.subnetId });
  }
}
