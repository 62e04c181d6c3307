import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "../../runtime/server.js";
const dir = mkdtempSync(join(tmpdir(), "prof-"));
const app = await createServer({ data: join(dir, "data"), auth: "none", logger: false });
const service = app.uws.service;
const hooks = [...service.finalHooks];
const def = service.definitions.get("hello")!;
async function round(n: number, on: boolean) {
  service.finalHooks.length = 0;
  if (on) service.finalHooks.push(...hooks);
  const jobs = [];
  for (let i = 0; i < n; i++) jobs.push(await service.create(def, null, [{ name: "name", value: "x" }], {}));
  let t = performance.now();
  for (const j of jobs) await service.abort(j);
  const sync = ((performance.now() - t) * 1000) / n;
  t = performance.now();
  await app.uws.provenance!.settle();
  await new Promise((r) => setImmediate(r));
  const after = ((performance.now() - t) * 1000) / n;
  return `${on ? "on " : "off"} abort µs ${sync.toFixed(1)} then settle µs ${after.toFixed(1)}`;
}
for (let k = 0; k < 3; k++) { console.log(await round(2000, false)); console.log(await round(2000, true)); }
await app.close();
