/** Spec builders shared by tests: a valid OpenStack spec with overrides. */
export function openstackSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "t-cluster",
    ttl: "8h",
    target: "openstack",
    openstack: { externalNetwork: "public" },
    head: { image: "Debian-12", flavor: "m1.large", cpus: 4, memoryMb: 8192 },
    compute: { count: 2, flavor: "m1.medium", cpus: 2, memoryMb: 4096 },
    network: { create: { cidr: "192.168.44.0/24", dnsServers: ["8.8.8.8"] } },
    access: { sshCidrs: ["203.0.113.0/24"], httpsCidrs: ["0.0.0.0/0"], keypair: "generate" },
    volume: { managed: { sizeGb: 10 } },
    serverGroup: "soft-anti-affinity",
    ...overrides,
  };
}
