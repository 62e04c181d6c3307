// GET /uws: the job definitions (JSON), with their typed parameters and declared results.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { links } from "./context.js";

export async function definitionsPlugin(app: FastifyInstance): Promise<void> {
  app.get("/uws", async (req) => definitionsDoc(app, req));
}

/** The document of GET /uws (also inlined in the portal's first page). */
export function definitionsDoc(app: FastifyInstance, req: FastifyRequest) {
  const defs = app.uws.service.definitions;
  return {
    definitions: [...defs.values()].map((d) => ({
      name: d.name,
      description: d.description,
      href: links(app, req).list(d.name),
      parameters: d.parameters.map((p) => ({
        name: p.name,
        type: p.type,
        required: p.required,
        default: p.default ?? null,
        min: p.min ?? null,
        max: p.max ?? null,
        maxLength: p.maxLength ?? null,
        pattern: p.pattern?.source ?? null,
        values: p.values ?? null,
        description: p.description ?? null,
      })),
      results: d.results.map((r) => ({ name: r.name, mimeType: r.mimeType })),
      resources: { cpus: d.cpus, memoryMb: d.memoryMb, maxDuration: d.maxDuration },
    })),
  };
}
