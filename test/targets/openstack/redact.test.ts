/** The engines' side of the one redaction module: credential variables of the environment, in output and before a file is written. */
import { describe, expect, it } from "vitest";
import { assertNoSecrets, REDACTED, redactorFor, registerSecret } from "../../../scripts/targets/openstack/redact.js";

const env = { OS_PASSWORD: "hunter22-pw", AWS_SECRET_ACCESS_KEY: "aws-secret-value", OS_PASSWORD_FILE: "/run/secrets/pw", OS_USERNAME: "alice-the-user", OS_TOKEN: "short" };

describe("redactorFor(env)", () => {
  const redact = redactorFor(env);
  it("hides the values of credential variables, never other variables' or *_FILE paths", () => {
    expect(redact("Error: auth failed for alice-the-user with hunter22-pw")).toBe(`Error: auth failed for alice-the-user with ${REDACTED}`);
    expect(redact("s3: signature aws-secret-value mismatch")).toBe(`s3: signature ${REDACTED} mismatch`);
    expect(redact("reading /run/secrets/pw")).toBe("reading /run/secrets/pw");
    expect(redact("short words stay")).toBe("short words stay");
  });
  it("also hides header and bearer patterns, and secrets registered by the cloud client", () => {
    expect(redact("X-Auth-Token: gAAAAABk.abc-def")).toBe(`X-Auth-Token: ${REDACTED}`);
    expect(redact("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.x.y")).toBe(`Authorization: Bearer ${REDACTED}`);
    registerSecret("app-cred-secret-42");
    expect(redact("provider echoed app-cred-secret-42")).toBe(`provider echoed ${REDACTED}`);
  });
});

describe("assertNoSecrets", () => {
  it("refuses text holding a credential variable's value, names the file, not the value", () => {
    expect(() => assertNoSecrets('{"password": "hunter22-pw"}', env, "main.tf.json")).toThrow(/refusing to write main\.tf\.json/);
    expect(() => assertNoSecrets('{"password": "hunter22-pw"}', env, "main.tf.json")).not.toThrow(/hunter22/);
    expect(() => assertNoSecrets('{"user": "alice-the-user"}', env, "main.tf.json")).not.toThrow();
  });
});
