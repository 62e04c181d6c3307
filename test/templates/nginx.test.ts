/** The nginx site checked by the real `nginx -t` (Debian nginx, temporary prefix, no port bound). */
import { rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Cluster } from "../../stacks/model/index.js";
import { renderCluster } from "../../scripts/render/index.js";
import { templates } from "../../scripts/render/engine.js";
import { addressBook, nginxView } from "../../scripts/render/views.js";
import { aaiDns, example, openstackCluster } from "../harness/specs.js";
import { tempDir } from "../harness/files.js";
import { nginxTest, selfSignedCert } from "./tools.js";

const root = tempDir("nginx");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cert = selfSignedCert(root);

function site(c: Cluster): string {
  return renderCluster(c, { headPublicIp: "198.51.100.7" })[0]!.files.find((f) => f.path === "/etc/nginx/conf.d/uws-cluster.conf")!.content as string;
}

/** The same template with the certificate paths pointed at a throw-away certificate. */
function testSite(c: Cluster): string {
  const view = nginxView(c, addressBook(c));
  return templates().render("nginx/uws-cluster.conf", { ...view, tls: { ...view.tls, cert: cert.cert, key: cert.key } });
}

async function check(name: string, text: string) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "site.conf");
  writeFileSync(file, text);
  return nginxTest(file, dir);
}

describe("nginx reverse proxy", () => {
  const cases: [string, () => Cluster][] = [
    ["self-signed (examples/openstack.yaml)", () => example("openstack")],
    ["Let's Encrypt (dns)", aaiDns],
    ["upload limit 2048 MB on port 9999", () => openstackCluster({ name: "t-ngx", jobserver: { port: 9999, uploadLimitMb: 2048 } })],
  ];
  for (const [label, make] of cases) {
    it(`${label}: passes nginx -t`, async () => {
      const c = make();
      const text = testSite(c);
      expect(text.replaceAll(cert.cert, "/etc/nginx/uws-tls/fullchain.pem").replaceAll(cert.key, "/etc/nginx/uws-tls/privkey.pem")).toBe(
        templates().render("nginx/uws-cluster.conf", nginxView(c, addressBook(c))));
      const r = await check(c.name, text);
      expect(r.ok, r.output).toBe(true);
      const shipped = site(c);
      expect(shipped).toContain(`proxy_pass http://127.0.0.1:${c.jobserver.port};`);
      expect(shipped).toContain(`client_max_body_size ${c.jobserver.uploadLimitMb}m;`);
      expect(shipped).toContain("proxy_set_header X-Forwarded-For $remote_addr;");
      expect(shipped).not.toContain("$proxy_add_x_forwarded_for");
      expect(shipped).toContain('proxy_set_header Forwarded "";');
      expect(shipped).toMatch(/listen 80 default_server;[\s\S]*return 301 https:\/\//);
      expect(shipped).toContain("listen 443 ssl");
      if (c.dns) {
        expect(shipped).toContain(`server_name ${c.dns.name};`);
        expect(shipped).toContain(`return 301 https://${c.dns.name}$request_uri;`);
        expect(shipped).toContain("Strict-Transport-Security");
      } else {
        expect(shipped).not.toContain("Strict-Transport-Security");
      }
    });
  }

  it("nginx -t really rejects a broken site (so the check above can fail)", async () => {
    const r = await check("broken", testSite(example("openstack")).replace("proxy_http_version 1.1;", "proxy_http_version;"));
    expect(r.ok).toBe(false);
  });

  it("TLS scripts: self-signed always, certbot only with a DNS name", () => {
    const files = (c: Cluster) => new Map(renderCluster(c, { headPublicIp: "198.51.100.7" })[0]!.files.map((f) => [f.path, String(f.content)]));
    const plain = files(example("openstack"));
    expect(plain.get("/usr/local/sbin/uws-tls-setup")).toContain("openssl req -x509");
    expect(plain.get("/usr/local/sbin/uws-tls-setup")).toContain("IP:198.51.100.7");
    expect(plain.get("/usr/local/sbin/uws-tls-setup")).not.toContain("certbot");
    expect(plain.has("/usr/local/sbin/uws-tls-install")).toBe(false);
    const le = files(aaiDns());
    expect(le.get("/usr/local/sbin/uws-tls-setup")).toContain("certbot certonly --webroot -w /var/www/letsencrypt -d jobs.example.org -m ops@example.org");
    expect(le.get("/usr/local/sbin/uws-tls-install")).toContain("/etc/letsencrypt/live/jobs.example.org");
  });
});
