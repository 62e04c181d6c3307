// The job server's parameter rules (runtime/jobdefs/params.ts, checkValue) in the browser: the same
// checks in the same order with the same messages, so a refused value reads the same here as in the
// server's 400. A test compares the two for the refused values it types.
const BAD_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/u;
const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const MAX = Number.MAX_SAFE_INTEGER;

function exactInt(value) {
  const t = value.trim();
  if (!INT_RE.test(t)) return `must be an integer, got '${value}'`;
  const big = BigInt(t);
  if (big > BigInt(MAX) || big < -BigInt(MAX)) return `must be an integer between -${MAX} and ${MAX} (kept exactly), got '${value}'`;
  return Number(big);
}

function decimal(t) {
  const m = /^([+-]?)(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/.exec(t);
  const int = m[2] ?? "";
  const frac = m[3] ?? "";
  let digits = (int + frac).replace(/^0+/, "");
  let exp = Number(m[4] ?? 0) - frac.length;
  const trailing = /0*$/.exec(digits)[0].length;
  digits = digits.slice(0, digits.length - trailing);
  exp += trailing;
  return { neg: m[1] === "-", digits, exp: digits ? exp : 0 };
}

function exactFloat(value) {
  const t = value.trim();
  if (!FLOAT_RE.test(t)) return `must be a number, got '${value}'`;
  const n = Number(t);
  if (!Number.isFinite(n)) return `is outside the range of a 64-bit float (about ±1.8e308), got '${value}'`;
  const a = decimal(t);
  const b = decimal(n.toExponential());
  if (a.digits !== b.digits || a.exp !== b.exp || (a.digits !== "" && a.neg !== b.neg))
    return a.digits !== "" && n === 0 ? `is too close to 0 for a 64-bit float, got '${value}'` : `has more precision than a 64-bit float keeps (it would become ${n}), got '${value}'`;
  if (n !== 0 && Math.abs(n) < 2.2250738585072014e-308) return `is too close to 0 for a 64-bit float (below 2.2e-308), got '${value}'`;
  return n;
}

/** null when the value is accepted, else the rule it breaks (the server's wording). p: a parameter of GET /uws. */
export function check(p, value) {
  if (BAD_CHARS.test(value)) return "control characters are not allowed";
  switch (p.type) {
    case "int":
    case "float": {
      const n = p.type === "int" ? exactInt(value) : exactFloat(value);
      if (typeof n === "string") return n;
      if (p.min !== null && n < p.min) return `must be ≥ ${p.min}, got ${n}`;
      if (p.max !== null && n > p.max) return `must be ≤ ${p.max}, got ${n}`;
      return null;
    }
    case "bool":
      return ["true", "1", "yes", "false", "0", "no"].includes(value.trim().toLowerCase()) ? null : `must be true or false, got '${value}'`;
    case "enum":
      return p.values.includes(value) ? null : `must be one of ${p.values.join(", ")}, got '${value}'`;
    case "url": {
      let u;
      try {
        u = new URL(value);
      } catch {
        return `must be an absolute http(s) URL, got '${value}'`;
      }
      return u.protocol === "http:" || u.protocol === "https:" ? null : `must be an http or https URL, got '${u.protocol}'`;
    }
    case "file": {
      // By reference: the value is a URL the server fetches (an upload is not checked here).
      let u;
      try {
        u = new URL(value);
      } catch {
        return `is a file: upload it as multipart/form-data or give an absolute http(s) URL, got '${value}'`;
      }
      return u.protocol === "http:" || u.protocol === "https:" ? null : `a file's URL must be http or https, got '${u.protocol}'`;
    }
    default:
      if (p.maxLength !== null && value.length > p.maxLength) return `must be at most ${p.maxLength} characters`;
      if (p.min !== null && value.length < p.min) return `must be at least ${p.min} characters`;
      if (p.pattern !== null && !new RegExp(p.pattern, "u").test(value)) return `must match ${p.pattern}`;
      return null;
  }
}

/** The server's message for a parameter: "parameter 'x' of 'def': <rule>". */
export const message = (def, p, rule) => `parameter '${p.name}' of '${def}': ${rule}`;
export const requiredMessage = (def, p) => `parameter '${p.name}' of '${def}' is required${p.type === "file" ? " (upload it as multipart/form-data)" : ""}`;

/** The parameter a server message names, if any. */
export function paramOf(msg) {
  const m = /^parameter '([^']+)'/.exec(msg);
  return m ? m[1] : null;
}
