/**
 * Deploying applications, shared by `up` and `apps push` on every target: the packages their jobs
 * need on the compute nodes (where the target installs packages), then each application's files
 * into a version folder on the head's shared filesystem, then one switch of the links
 * `<appsDir>/<name>` to the new versions (applications no longer listed lose their link and stop
 * accepting jobs). Jobs already running keep the version folder they started with.
 */
import type { Cluster } from "../../stacks/model/index.js";
import { appFiles, appPackages, versionDir, type AppBundle } from "../apps/index.js";
import { shq, type SshHost, type SshPool } from "../ssh/index.js";

/** Version folders kept per application besides the current one (jobs started before a push may still use them). */
export const KEEP_VERSIONS = 3;

export interface AppTarget {
  pool: SshPool;
  head: SshHost;
  computes: SshHost[];
  /** Installs Debian packages on nodes; absent where the target checked them before (local: the host's own). */
  installPackages?(pool: SshPool, nodes: SshHost[], packages: string[]): Promise<void>;
}

export async function deployApps(cluster: Cluster, apps: AppBundle[], t: AppTarget): Promise<void> {
  const packages = appPackages(apps);
  if (packages.length && t.installPackages) await t.installPackages(t.pool, t.computes, packages);
  for (const app of apps) await t.pool.push(t.head, appFiles(cluster, app));
  for (const app of apps) if (app.requirements) await t.pool.run(t.head, venvScript(cluster, app), { timeoutMs: 900_000 });
  await t.pool.run(t.head, switchScript(cluster, apps));
}

/**
 * The applications' Debian packages as last deployed (`up`, `apps push`), one per line on the head:
 * an elastic cluster's power agent installs these on every node it powers up, so a push after `up`
 * reaches nodes that do not exist yet.
 */
export function packagesRecordPath(cluster: Pick<Cluster, "jobserver">): string {
  return `${cluster.jobserver.appsDir}/.packages`;
}

/**
 * Points `<appsDir>/<name>` at each application's new version (an atomic rename of a fresh link),
 * removes the links of applications no longer deployed, keeps the newest KEEP_VERSIONS version
 * folders of each application, and records the packages (packagesRecordPath).
 */
export function switchScript(cluster: Cluster, apps: AppBundle[]): string {
  const dir = cluster.jobserver.appsDir;
  const packages = appPackages(apps);
  const lines = ["set -e", `mkdir -p ${shq(`${dir}/.versions`)}`, `cd ${shq(dir)}`];
  lines.push(`${packages.length ? `printf '%s\\n' ${packages.map(shq).join(" ")}` : ":"} > .packages.tmp`, "chmod 0644 .packages.tmp", "mv -f .packages.tmp .packages");
  for (const a of apps) {
    const rel = `.versions/${a.name}-${a.version}`;
    lines.push(`test -d ${shq(versionDir(cluster, a))}`, `touch ${shq(rel)}`, `ln -sfn ${shq(rel)} ${shq(`.${a.name}.link`)}`, `mv -Tf ${shq(`.${a.name}.link`)} ${shq(a.name)}`);
  }
  const keep = apps.map((a) => a.name);
  // Links (and only links) of applications that are no longer part of the cluster.
  lines.push(`for l in *; do [ -L "$l" ] || continue; case " ${keep.join(" ")} " in *" $l "*) ;; *) rm -f -- "$l" ;; esac; done`);
  lines.push(`for a in $(ls .versions | sed 's/-[0-9a-f]*$//' | sort -u); do ls -1dt .versions/"$a"-* | tail -n +${KEEP_VERSIONS + 2} | xargs -r rm -rf --; done`);
  return lines.join("\n");
}

/**
 * The application's Python environment, made once per version on the head, inside its version
 * folder on the shared filesystem (compute nodes run the same Python): `.venv` with the system's
 * packages visible, then pip with the requirements file (run from the folder, so its
 * `--find-links ./wheels` lines work where the nodes have no index to reach).
 */
export function venvScript(cluster: Cluster, app: AppBundle): string {
  const dir = versionDir(cluster, app);
  return [
    "set -e",
    `cd ${shq(dir)}`,
    "test -e .venv/.uws-complete && exit 0",
    "rm -rf .venv",
    "/usr/bin/python3 -m venv --system-site-packages .venv",
    `.venv/bin/pip install --no-input --disable-pip-version-check --no-cache-dir -r ${shq(app.requirements!)}`,
    "touch .venv/.uws-complete",
  ].join("\n");
}

/** apt-get on booted machines (cloud VMs): the applications' packages, non-interactive, retried once. */
export async function aptInstall(pool: SshPool, nodes: SshHost[], packages: string[]): Promise<void> {
  const pk = packages.map(shq).join(" ");
  const cmd = `export DEBIAN_FRONTEND=noninteractive; for i in 1 2; do apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 ${pk} && exit 0; apt-get update -q -o DPkg::Lock::Timeout=300 || true; done; exit 1`;
  await pool.forEach(nodes, (h) => pool.run(h, cmd, { timeoutMs: 900_000 }));
}
