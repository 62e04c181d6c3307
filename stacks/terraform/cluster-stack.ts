import { Fn, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { createdByUp, type Cluster } from "../model/index.js";
import { NetworkingFloatingipAssociateV2, NetworkingFloatingipV2, OpenstackProvider } from "./bindings.js";
import { ClusterCompute } from "./compute.js";
import { ClusterNetwork } from "./network.js";
import { ClusterSecurity } from "./security.js";
import { SharedVolume } from "./storage.js";

export interface ClusterStackProps {
  cluster: Cluster;
  publicKey?: string;
  userData?: Record<string, string>;
  /** Terraform backend block (e.g. { s3: {...} }); local state in the working directory when absent. */
  backend?: Record<string, Record<string, unknown>>;
}

/**
 * The whole cluster as one Terraform stack. The provider block holds no credentials: terraform/tofu
 * read clouds.yaml + OS_CLOUD or OS_* variables at apply time.
 */
export class ClusterStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: ClusterStackProps) {
    super(scope, id);
    const { cluster } = props;
    new OpenstackProvider(this, "openstack", { region: cluster.region });
    if (props.backend) {
      for (const [type, config] of Object.entries(props.backend)) this.addOverride(`terraform.backend.${type}`, config);
    }
    this.addOverride("terraform.required_version", ">= 1.5.0");

    const network = new ClusterNetwork(this, "network", { cluster });
    const security = new ClusterSecurity(this, "security", { cluster });
    const compute = new ClusterCompute(this, "compute", {
      cluster, networkId: network.networkId, subnetId: network.subnetId, securityGroupIds: security.groupIds,
      publicKey: props.publicKey, userData: props.userData,
    });
    const head = compute.head(cluster);
    new SharedVolume(this, "storage", { cluster, headInstanceId: head.instance.id });

    let headPublicIp = head.instance.accessIpV4;
    if (cluster.network.mode === "create") {
      const fip = new NetworkingFloatingipV2(this, "head-fip", {
        pool: cluster.network.externalNetwork, description: cluster.floatingIp.description, tags: cluster.tagList,
      });
      new NetworkingFloatingipAssociateV2(this, "head-fip-associate", {
        floatingIp: fip.address, portId: head.port.id, dependsOn: network.routerInterface ? [network.routerInterface] : [],
      });
      headPublicIp = fip.address;
    }

    new TerraformOutput(this, "head_public_ip", { value: headPublicIp, description: "address uws-cluster connects to (SSH, HTTPS)" });
    new TerraformOutput(this, "private_ips", {
      value: Object.fromEntries(createdByUp(cluster).map((n) => [n.name, Fn.element(compute.ports[n.name]!.allFixedIps, 0)])),
      description: "private address of every node",
    });
    new TerraformOutput(this, "cluster_id", { value: cluster.id });
  }
}
