import { Construct } from "constructs";
import type { Cluster } from "../model/index.js";
import { BlockstorageVolumeV3, ComputeVolumeAttachV2 } from "./bindings.js";

export interface SharedVolumeProps {
  cluster: Cluster;
  headInstanceId: string;
}

/** The shared volume on the head: managed (created and destroyed here) or existing (only attached). */
export class SharedVolume extends Construct {
  constructor(scope: Construct, id: string, props: SharedVolumeProps) {
    super(scope, id);
    const { cluster } = props;
    const vol = cluster.volume;
    if (vol.mode === "none") return;
    const volumeId = vol.mode === "managed"
      ? new BlockstorageVolumeV3(this, "volume", {
          name: vol.name, size: vol.sizeGb, volumeType: vol.type, metadata: { ...cluster.tags }, description: cluster.description,
        }).id
      : vol.id; // an existing volume is never a resource here, so destroy cannot delete it
    new ComputeVolumeAttachV2(this, "attach", { instanceId: props.headInstanceId, volumeId });
  }
}
