/**
 * Pulumi type tokens of @pulumi/openstack 3.15.2 → the Terraform resource types the CDKTF stack uses.
 * Data sources (invokes) map to `data.<type>`. Used by the mocks and the parity test.
 */
export const PULUMI_TO_TERRAFORM: Record<string, string> = {
  "openstack:networking/network:Network": "openstack_networking_network_v2",
  "openstack:networking/subnet:Subnet": "openstack_networking_subnet_v2",
  "openstack:networking/router:Router": "openstack_networking_router_v2",
  "openstack:networking/routerInterface:RouterInterface": "openstack_networking_router_interface_v2",
  "openstack:networking/secGroup:SecGroup": "openstack_networking_secgroup_v2",
  "openstack:networking/secGroupRule:SecGroupRule": "openstack_networking_secgroup_rule_v2",
  "openstack:networking/port:Port": "openstack_networking_port_v2",
  "openstack:networking/floatingIp:FloatingIp": "openstack_networking_floatingip_v2",
  "openstack:networking/floatingIpAssociate:FloatingIpAssociate": "openstack_networking_floatingip_associate_v2",
  "openstack:compute/instance:Instance": "openstack_compute_instance_v2",
  "openstack:compute/keypair:Keypair": "openstack_compute_keypair_v2",
  "openstack:compute/serverGroup:ServerGroup": "openstack_compute_servergroup_v2",
  "openstack:compute/volumeAttach:VolumeAttach": "openstack_compute_volume_attach_v2",
  "openstack:blockstorage/volume:Volume": "openstack_blockstorage_volume_v3",
  "openstack:networking/getNetwork:getNetwork": "data.openstack_networking_network_v2",
  "openstack:networking/getSubnet:getSubnet": "data.openstack_networking_subnet_v2",
};

/**
 * Pulumi input names that are not the camelCase of the Terraform argument: @pulumi/openstack
 * pluralises list blocks (`fixed_ip` → `fixedIps`). Everything else converts mechanically.
 */
export const PULUMI_ARG_RENAMES: Record<string, string> = {
  fixedIps: "fixed_ip",
  networks: "network",
  allocationPools: "allocation_pool",
  blockDevices: "block_device",
  extraDhcpOptions: "extra_dhcp_option",
  externalFixedIps: "external_fixed_ip",
  personalities: "personality",
};

/** camelCase → snake_case as the Terraform schema spells it (`accessIpV4` → `access_ip_v4`). */
export function toSnake(name: string): string {
  if (PULUMI_ARG_RENAMES[name]) return PULUMI_ARG_RENAMES[name]!;
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}
