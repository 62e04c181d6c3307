import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { Cluster } from "../model/index.js";

export interface SharedVolumeArgs {
  cluster: Cluster;
  headInstanceId: pulumi.Input<string>;
}

/** The shared volume on the head: managed (created and destroyed here) or existing (only attached). */
export class SharedVolume extends pulumi.ComponentResource {
  constructor(name: string, args: SharedVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("uws-cluster:openstack:SharedVolume", name, {}, opts);
    const { cluster } = args;
    const vol = cluster.volume;
    const child = { parent: this };
    if (vol.mode !== "none") {
      // openstack.blockstorage.Volume is the provider's openstack_blockstorage_volume_v3.
      const volumeId = vol.mode === "managed"
        ? new openstack.blockstorage.Volume("volume", {
            name: vol.name, size: vol.sizeGb, volumeType: vol.type, metadata: { ...cluster.tags }, description: cluster.description,
          }, child).id
        : vol.id; // an existing volume is never a resource here, so destroy cannot delete it
      new openstack.compute.VolumeAttach("attach", { instanceId: args.headInstanceId, volumeId }, child);
    }
    this.registerOutputs({});
  }
}
