// A file parameter given by URL (UWS byReference) through the plain UWS API, no browser: the server
// fetches it into the job's uploads and the job uses it; refused with a 400 naming the parameter:
// a non-http(s) scheme, a loopback address not listed in fileUrlHosts (also when a public-looking
// redirect leads there), an error answer, a file over the upload limit. The files are served by a
// small HTTP server of this test on loopback.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "./harness.js";

const NOTES = "notes fetched by the job server from a URL\n";

describe("file parameters by URL (UWS byReference)", { timeout: 60_000 }, () => {
  let files: Server;
  let origin = "";
  let s: Served;
  let strict: Served;

  beforeAll(async () => {
    files = createServer((req, res) => {
      if (req.url === "/notes.txt") return res.writeHead(200, { "content-type": "text/plain" }).end(NOTES);
      if (req.url === "/big") return res.writeHead(200, { "content-length": 2 * 1048576 + 1 }).end(Buffer.alloc(2 * 1048576 + 1, 97));
      if (req.url === "/big-undeclared") return res.writeHead(200).end(Buffer.alloc(2 * 1048576 + 1, 97));
      if (req.url === "/to-metadata") return res.writeHead(302, { location: "http://169.254.169.254/latest/user-data" }).end();
      if (req.url === "/to-notes") return res.writeHead(302, { location: "/notes.txt" }).end();
      res.writeHead(404).end("nothing here");
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    origin = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    s = await serve({ auth: "none", fileUrlHosts: ["127.0.0.1"], uploadLimitMb: 2 });
    strict = await serve({ auth: "none" });
  });
  afterAll(async () => {
    await s?.stop();
    await strict?.stop();
    await new Promise((r) => files?.close(r));
  });

  const create = (server: Served, notes: string, extra = "") =>
    fetch(`${server.url}/uws/demo`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `notes=${encodeURIComponent(notes)}${extra}`, redirect: "manual" });

  it("fetches the URL into the job's uploads; the job uses the file; the parameter is byReference", async () => {
    const r = await create(s, `${origin}/to-notes`, "&PHASE=RUN");
    expect(r.status, await r.clone().text()).toBe(303);
    const job = r.headers.get("location")!;
    let phase = "";
    for (let i = 0; i < 60 && phase !== "COMPLETED"; i++) {
      phase = ((await (await fetch(`${job}?WAIT=5`, { headers: { accept: "application/json" } })).json()) as any).phase;
      expect(phase).not.toBe("ERROR");
    }
    expect(phase).toBe("COMPLETED");
    expect(await (await fetch(`${job}/results/notes`)).text()).toBe(NOTES);
    expect(await (await fetch(`${job}/parameters/notes`)).text()).toBe(NOTES);
    const xml = await (await fetch(`${job}/parameters`)).text();
    expect(xml).toContain(`<uws:parameter id="notes" byReference="true">${job}/parameters/notes</uws:parameter>`);
  });

  it("refuses a non-http(s) scheme or a value that is no URL, naming the parameter", async () => {
    for (const [value, text] of [
      ["file:///etc/passwd", "parameter 'notes' of 'demo': a file's URL must be http or https, got 'file:'"],
      ["ftp://example.org/notes.txt", "parameter 'notes' of 'demo': a file's URL must be http or https, got 'ftp:'"],
      ["notes.txt", "parameter 'notes' of 'demo': is a file: upload it as multipart/form-data or give an absolute http(s) URL, got 'notes.txt'"],
    ]) {
      const r = await create(s, value!);
      expect(r.status).toBe(400);
      expect((await r.text()).trim()).toBe(text);
    }
  });

  it("refuses loopback and link-local addresses unless listed, a redirect there, an error answer and a file over the upload limit", async () => {
    const cases: Array<[Served, string, RegExp]> = [
      [strict, `${origin}/notes.txt`, /^parameter 'notes' of 'demo': could not fetch .*: 127\.0\.0\.1 is a loopback, private or link-local address.*fileUrlHosts \(--file-url-host\)$/],
      [strict, `http://localhost:${new URL(origin).port}/notes.txt`, /^parameter 'notes' of 'demo': could not fetch .*: localhost is a loopback, private or link-local address \((127\.0\.0\.1|::1)\)/],
      [s, `${origin}/to-metadata`, /^parameter 'notes' of 'demo': could not fetch .*: 169\.254\.169\.254 is a loopback, private or link-local address/],
      [s, `${origin}/missing`, /^parameter 'notes' of 'demo': could not fetch .*: 127\.0\.0\.1:\d+ answered HTTP 404$/],
      [s, `${origin}/big`, /^parameter 'notes' of 'demo': could not fetch .*: the file is 2097153 bytes, over the server's upload limit of 2 MB/],
      [s, `${origin}/big-undeclared`, /^parameter 'notes' of 'demo': could not fetch .*: the file is over the server's upload limit of 2 MB \(uploadLimitMb \/ --upload-limit-mb\)$/],
    ];
    for (const [server, url, re] of cases) {
      const r = await create(server, url);
      expect(r.status, url).toBe(400);
      expect((await r.text()).trim()).toMatch(re);
    }
  });

  it("refuses the same file parameter given twice (a URL and an upload)", async () => {
    const body = new FormData();
    body.append("notes", `${origin}/notes.txt`);
    body.append("notes", new Blob(["uploaded"]), "n.txt");
    const r = await fetch(`${s.url}/uws/demo`, { method: "POST", body, redirect: "manual" });
    expect(r.status).toBe(400);
    expect((await r.text()).trim()).toBe("parameter 'notes' of 'demo': given more than once");
  });
});
