/** One problem in a spec: the dotted path of the field and what to do about it. */
export interface SpecIssue {
  field: string;
  message: string;
}

/** Thrown by parse/validate with every problem found, so a user fixes a spec in one pass. */
export class SpecError extends Error {
  readonly issues: SpecIssue[];
  constructor(issues: SpecIssue[], source?: string) {
    const head = source ? `invalid cluster spec ${source}` : "invalid cluster spec";
    super(`${head}:\n${issues.map((i) => `  - ${i.field}: ${i.message}`).join("\n")}`);
    this.name = "SpecError";
    this.issues = issues;
  }
}
