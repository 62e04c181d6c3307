// UWS 1.1 XML documents. Element order follows the schema (UWS-v1.1.xsd): the tests validate
// every kind of document against it.
import type { Job, JobRefRow, ResultRef } from "../store/jobs-db.js";
import { iso } from "./time.js";

const NS = `xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`;
const HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n`;

/**
 * Characters XML 1.0 cannot carry at all (not even escaped): C0 controls other than tab, LF and
 * CR, lone surrogates, U+FFFE and U+FFFF. Input refuses them (400 naming the field); output
 * replaces any that slipped in earlier (rows written before the check, OIDC claims) with U+FFFD,
 * so a document is always well-formed.
 */
export const XML_ILLEGAL = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const XML_ILLEGAL_ALL = new RegExp(XML_ILLEGAL.source, "gu");

/** The first character XML cannot carry, as U+XXXX, or undefined. */
export function xmlIllegalChar(s: string): string | undefined {
  const m = XML_ILLEGAL.exec(s);
  return m ? `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}` : undefined;
}

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
export function esc(s: string): string {
  const e = s.replace(/[&<>"']/g, (c) => ESC[c]!);
  return XML_ILLEGAL.test(e) ? e.replace(XML_ILLEGAL_ALL, "\uFFFD") : e;
}

function timeEl(name: string, ms: number | null): string {
  return ms === null ? `<uws:${name} xsi:nil="true"/>` : `<uws:${name}>${iso(ms)}</uws:${name}>`;
}
function ownerEl(owner: string | null): string {
  return owner === null ? `<uws:ownerId xsi:nil="true"/>` : `<uws:ownerId>${esc(owner)}</uws:ownerId>`;
}

export function jobsXml(rows: JobRefRow[], hrefOf: (id: string) => string): string {
  const parts: string[] = [HEAD, `<uws:jobs version="1.1" ${NS}>`];
  for (const r of rows) {
    parts.push(
      `<uws:jobref id="${esc(r.id)}" xlink:type="simple" xlink:href="${esc(hrefOf(r.id))}"><uws:phase>${r.phase}</uws:phase>` +
        (r.runId !== null ? `<uws:runId>${esc(r.runId)}</uws:runId>` : "") +
        ownerEl(r.owner) +
        `<uws:creationTime>${iso(r.created)}</uws:creationTime></uws:jobref>`,
    );
  }
  parts.push(`</uws:jobs>\n`);
  return parts.join("");
}

export function parametersBody(job: Job, paramHref: (name: string) => string): string {
  return job.params
    .map((p) =>
      p.byReference
        ? `<uws:parameter id="${esc(p.name)}" byReference="true">${esc(paramHref(p.name))}</uws:parameter>`
        : `<uws:parameter id="${esc(p.name)}">${esc(p.value)}</uws:parameter>`,
    )
    .join("");
}

export function resultsBody(results: ResultRef[], resultHref: (id: string) => string): string {
  return results
    .map((r) => `<uws:result id="${esc(r.id)}" xlink:type="simple" xlink:href="${esc(resultHref(r.id))}"${r.size === null ? "" : ` size="${r.size}"`} mime-type="${esc(r.mimeType)}"/>`)
    .join("");
}

export interface Hrefs {
  param: (name: string) => string;
  result: (id: string) => string;
  /** The results as served (JobService.servedResults: stored ones plus listed entries); else job.results. */
  results?: ResultRef[];
}

export function jobXml(job: Job, h: Hrefs): string {
  return (
    HEAD +
    `<uws:job version="1.1" ${NS}>` +
    `<uws:jobId>${esc(job.id)}</uws:jobId>` +
    (job.runId !== null ? `<uws:runId>${esc(job.runId)}</uws:runId>` : "") +
    ownerEl(job.owner) +
    `<uws:phase>${job.phase}</uws:phase>` +
    timeEl("quote", job.quote) +
    `<uws:creationTime>${iso(job.created)}</uws:creationTime>` +
    timeEl("startTime", job.started) +
    timeEl("endTime", job.ended) +
    `<uws:executionDuration>${job.duration}</uws:executionDuration>` +
    timeEl("destruction", job.destruction) +
    `<uws:parameters>${parametersBody(job, h.param)}</uws:parameters>` +
    `<uws:results>${resultsBody(h.results ?? job.results, h.result)}</uws:results>` +
    (job.phase === "ERROR" || job.error !== null
      ? `<uws:errorSummary type="${job.errorType ?? "fatal"}" hasDetail="true"><uws:message>${esc(job.error ?? "job failed")}</uws:message></uws:errorSummary>`
      : "") +
    `</uws:job>\n`
  );
}

export function resultsXml(job: Job, h: Hrefs): string {
  return HEAD + `<uws:results ${NS}>${resultsBody(h.results ?? job.results, h.result)}</uws:results>\n`;
}

export function parametersXml(job: Job, h: Hrefs): string {
  return HEAD + `<uws:parameters ${NS}>${parametersBody(job, h.param)}</uws:parameters>\n`;
}

/** The result list in the JSON forms (the job's, and GET …/results). */
export function resultsJson(results: ResultRef[], resultHref: (id: string) => string): Array<{ id: string; href: string; size: number | null; mimeType: string }> {
  return results.map((r) => ({ id: r.id, href: resultHref(r.id), size: r.size, mimeType: r.mimeType }));
}

/** JSON form (extension, on Accept: application/json). */
export function jobJson(job: Job, h: Hrefs): unknown {
  return {
    jobId: job.id,
    runId: job.runId,
    ownerId: job.owner,
    phase: job.phase,
    quote: job.quote === null ? null : iso(job.quote),
    creationTime: iso(job.created),
    startTime: job.started === null ? null : iso(job.started),
    endTime: job.ended === null ? null : iso(job.ended),
    executionDuration: job.duration,
    destruction: job.destruction === null ? null : iso(job.destruction),
    parameters: Object.fromEntries(job.params.map((p) => [p.name, p.byReference ? h.param(p.name) : p.value])),
    results: resultsJson(h.results ?? job.results, h.result),
    errorSummary: job.phase === "ERROR" || job.error !== null ? { type: job.errorType ?? "fatal", hasDetail: true, message: job.error ?? "job failed" } : null,
  };
}
