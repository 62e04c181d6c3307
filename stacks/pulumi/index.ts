/**
 * The Pulumi rendering of the resolved Cluster: the same resources, names, tags and rules as
 * stacks/terraform (test/pulumi/parity.test.ts compares them argument by argument).
 *
 * @pulumi/openstack 3.15.2 bridges terraform-provider-openstack v1.54, the Terraform stack targets
 * v3. Every argument used here exists in both; the only differences are spellings of list blocks
 * (fixedIps = fixed_ip, networks = network, allocationPools = allocation_pool) and
 * blockstorage.Volume = openstack_blockstorage_volume_v3. v3-only arguments (secgroup `stateful`,
 * rule `remote_address_group_id`, subnet `dns_publish_fixed_ip`/`segment_id`, volume
 * `volume_retype_policy`, volume_attach `tag`, instance `hypervisor_hostname`) must not be used
 * by either stack while Pulumi parity is required.
 */
export { ClusterProgram, clusterProgram, type ClusterProgramArgs, type ClusterProgramOptions, type ClusterProgramOutputs } from "./cluster-program.js";
