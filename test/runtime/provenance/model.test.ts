// The document model's pure parts: the direct PROV-JSON writer equals JSON.stringify of the object
// form, Python-style times, safe identifiers, Accept negotiation.
import { describe, expect, it } from "vitest";
import { ProvDoc, dt, qn, uri } from "../../../runtime/provenance/model.js";
import { pyIso } from "../../../runtime/provenance/serialize.js";
import { safe } from "../../../runtime/provenance/document.js";
import { negotiate } from "../../../runtime/provenance/formats.js";

describe("provenance model", () => {
  it("toJsonText is JSON.stringify(toJson()); relations are deduplicated; empty and control characters are dropped", () => {
    const d = new ProvDoc({ a: "http://x/" });
    d.entity("a:e", { "prov:label": 'q"\\\n\u2028é\r\nx\u0001', "a:n": 5, "a:q": qn("a:e"), "a:u": uri("http://x/?a&b"), "a:t": dt("2024-01-01T00:00:00.000Z"), "a:empty": "" });
    d.activity("a:act", { "prov:startTime": "2024-01-01T00:00:00.000Z" });
    for (let i = 0; i < 2; i++) d.relation("used", { "prov:activity": "a:act", "prov:entity": "a:e", "prov:role": "r" });
    d.relation("wasGeneratedBy", { "prov:entity": "a:e", "prov:activity": "a:act" });
    expect(d.toJsonText()).toBe(JSON.stringify(d.toJson()));
    expect(d.relations).toHaveLength(2);
    expect(d.elements.entity.get("a:e")!["prov:label"]).toBe('q"\\\n\u2028é\nx');
    expect(d.elements.entity.get("a:e")!["a:empty"]).toBeUndefined();
  });

  it("times as Python's isoformat; safe local parts", () => {
    expect(pyIso("2024-05-01T10:00:00.123Z")).toBe("2024-05-01T10:00:00.123000+00:00");
    expect(pyIso("2024-05-01T10:00:00.000Z")).toBe("2024-05-01T10:00:00+00:00");
    expect(safe("alice")).toBe("alice");
    expect(safe("0.1.0")).toBe("0.1.0");
    expect(safe("a b/é.")).toBe("a%20b%2F%C3%A9%2E");
    expect(safe(".x")).toBe("%2Ex");
  });

  it("Accept negotiation", () => {
    expect(negotiate(undefined)).toBe("PROV-JSON");
    expect(negotiate("*/*")).toBe("PROV-JSON");
    expect(negotiate("text/provenance-notation")).toBe("PROV-N");
    expect(negotiate("image/svg+xml;q=0.3, application/provenance+xml;q=0.8")).toBe("PROV-XML");
    expect(negotiate("text/csv")).toBeUndefined();
    expect(negotiate("image/svg+xml;q=0")).toBeUndefined();
  });
});
