/**
 * Generates the typed OpenStack provider bindings (stacks/terraform/.gen/) from the provider schema
 * document in schema/ (the `terraform providers schema -json` format), offline. No prebuilt
 * OpenStack provider package exists for cdktf, and `cdktf get` needs the network. The document is
 * the list: it holds only the resources and data sources the constructs use (a new one is its
 * schema added there, then this run and an export in bindings.ts).
 * Run: npm run gen:openstack   (the output is committed; test/terraform checks it is up to date)
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

process.env.CHECKPOINT_DISABLE = "1";
// The generator probes a local terraform binary; keep it from complaining about a missing ~/.terraformrc.
process.env.TF_CLI_CONFIG_FILE ??= "/dev/null";
const require = createRequire(import.meta.url);
// Deep import: the package index pulls in jsii-pacmak, which is not installed and not needed here.
const { TerraformProviderGenerator } = require("@cdktf/provider-generator/lib/get/generator/provider-generator");
const { ConstructsMakerProviderTarget, TerraformProviderConstraint, LANGUAGES } = require("@cdktf/commons");
const { CodeMaker } = require("codemaker");

const PROVIDER_CONSTRAINT = "terraform-provider-openstack/openstack@~> 3.0";
const here = dirname(fileURLToPath(import.meta.url));

export async function generateBindings(outDir = join(here, ".gen")): Promise<void> {
  const schema = JSON.parse(readFileSync(join(here, "schema", "openstack-provider-schema.json"), "utf8"));
  rmSync(outDir, { recursive: true, force: true });
  const code = new CodeMaker();
  new TerraformProviderGenerator(code, schema).generate(
    new ConstructsMakerProviderTarget(new TerraformProviderConstraint(PROVIDER_CONSTRAINT), LANGUAGES[0]),
  );
  await code.save(outDir);
  // Keep only the per-resource modules: READMEs are boilerplate, and the barrel index files use
  // extensionless imports that NodeNext rejects (the stack imports each resource module directly).
  for (const f of readdirSync(outDir, { recursive: true, encoding: "utf8" })) {
    if (f.endsWith("README.md") || /^providers\/openstack\/(lazy-)?index\.ts$/.test(f)) rmSync(join(outDir, f));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await generateBindings(process.argv[2]);
}
