import { Construct } from "constructs";
import type { Cluster } from "../model/index.js";
import {
  DataOpenstackNetworkingNetworkV2, DataOpenstackNetworkingSubnetV2, NetworkingNetworkV2,
  NetworkingRouterInterfaceV2, NetworkingRouterV2, NetworkingSubnetV2,
} from "./bindings.js";

export interface ClusterNetworkProps {
  cluster: Cluster;
}

/** The cluster's network: created (network, subnet, router with gateway and interface) or reused. */
export class ClusterNetwork extends Construct {
  readonly networkId: string;
  readonly subnetId: string;
  /** Present when the network is created: a floating IP can be associated only once it exists. */
  readonly routerInterface?: NetworkingRouterInterfaceV2;

  constructor(scope: Construct, id: string, props: ClusterNetworkProps) {
    super(scope, id);
    const { cluster } = props;
    const net = cluster.network;
    if (net.mode === "existing") {
      // Looked up as the model says: by id or by name.
      const { networkRef: n, subnetRef: s } = net;
      const existingNet = new DataOpenstackNetworkingNetworkV2(this, "network", n.by === "id" ? { networkId: n.value } : { name: n.value });
      const bySub = s.by === "id" ? { subnetId: s.value } : { name: s.value };
      const existingSub = new DataOpenstackNetworkingSubnetV2(this, "subnet", { ...bySub, networkId: existingNet.id });
      this.networkId = existingNet.id;
      this.subnetId = existingSub.id;
      return;
    }
    const network = new NetworkingNetworkV2(this, "network", {
      name: net.networkName, adminStateUp: true, tags: cluster.tagList, description: cluster.description,
    });
    // Node addresses are fixed by the model; DHCP and router ports stay in the model's allocation pool.
    const subnet = new NetworkingSubnetV2(this, "subnet", {
      name: net.subnetName, networkId: network.id, cidr: net.cidr, ipVersion: 4, gatewayIp: net.gatewayIp,
      dnsNameservers: net.dnsServers, enableDhcp: true, tags: cluster.tagList, description: cluster.description,
      allocationPool: [net.allocationPool],
    });
    const external = new DataOpenstackNetworkingNetworkV2(this, "external", { name: net.externalNetwork, external: true });
    const router = new NetworkingRouterV2(this, "router", {
      name: net.routerName, adminStateUp: true, externalNetworkId: external.id, tags: cluster.tagList, description: cluster.description,
    });
    this.routerInterface = new NetworkingRouterInterfaceV2(this, "router-interface", { routerId: router.id, subnetId: subnet.id });
    this.networkId = network.id;
    this.subnetId = subnet.id;
  }
}
