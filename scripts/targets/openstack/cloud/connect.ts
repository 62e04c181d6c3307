/** CLI entry to the cloud: credentials the standard way, then an authenticated client. */
import { OpenStackClient, type ClientOptions } from "./client.js";
import { loadCredentials } from "./credentials.js";

export async function connectCloud(o: { env: NodeJS.ProcessEnv; cwd: string; cloud?: string; client?: ClientOptions }): Promise<OpenStackClient> {
  const creds = loadCredentials({ env: o.env, cwd: o.cwd, cloud: o.cloud });
  return OpenStackClient.connect(creds, o.client);
}
