/**
 * The machines target's node image: a Debian root filesystem built once per release with
 * mmdebstrap (what a cloud's Debian genericcloud image holds that matters here: systemd, cloud-init
 * reading a NoCloud seed, openssh-server without host keys, an empty machine-id), kept as a zstd
 * tarball and extracted once into a read-only base every node overlays. Also the download mirror the
 * apt proxy serves to nodes that have no route out: a Node.js release folder (nodejs.org's layout)
 * made from this machine's Node.js, and the job server's native module prebuilt here (in
 * prebuild-install's layout).
 *
 * Everything lives in the cache folder (UWS_CLUSTER_CACHE, default /var/cache/uws-cluster), outside
 * any checkout, so CI runs in fresh clones reuse it.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { MachinesRelease } from "../model/index.js";

export const RELEASES: readonly MachinesRelease[] = ["bookworm", "trixie"];

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.UWS_CLUSTER_CACHE || "/var/cache/uws-cluster";
}

/** Packages of the image: a booted Debian with cloud-init and sshd, as a cloud image has them. */
export const IMAGE_PACKAGES = [
  "systemd", "systemd-sysv", "dbus", "udev", "cloud-init", "openssh-server", "ifupdown", "iproute2", "iputils-ping",
  "netbase", "sudo", "ca-certificates", "procps", "less", "python3-apt", "gnupg", "curl", "locales",
] as const;

/** Bumped when the build recipe changes, so a cached image of an older recipe is rebuilt. */
const RECIPE = 1;

export interface ImagePaths {
  dir: string;
  tarball: string;
  /** Extracted root filesystem, the read-only lowerdir of every node. */
  base: string;
  /** Written last by the extraction: the base is complete. */
  stamp: string;
}

export function imagePaths(release: MachinesRelease, env: NodeJS.ProcessEnv = process.env): ImagePaths {
  const dir = join(cacheRoot(env), "machines", `${release}-r${RECIPE}`);
  const base = join(dir, "base");
  return { dir, tarball: join(dir, "rootfs.tar.zst"), base, stamp: join(dir, "base.ready") };
}

export function imageReady(release: MachinesRelease, env: NodeJS.ProcessEnv = process.env): boolean {
  const p = imagePaths(release, env);
  return existsSync(p.stamp) && existsSync(join(p.base, "etc/os-release"));
}

/** The Debian archive this machine's own apt uses (the image's sources), else deb.debian.org. */
export function hostDebianMirror(): string {
  const files: string[] = [];
  for (const d of ["/etc/apt/sources.list.d"]) if (existsSync(d)) for (const f of readdirSync(d)) files.push(join(d, f));
  if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    const m = /^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+\/debian)\/?\s*$/m.exec(text) ?? /^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+\/debian)\/?\s/m.exec(text);
    if (m) return m[1]!;
  }
  return "http://deb.debian.org/debian";
}

export interface BuildResult {
  release: MachinesRelease;
  tarball: string;
  base: string;
  built: boolean;
  seconds: number;
  tarballBytes: number;
}

/** The tarball (built with mmdebstrap unless cached or `force`), then its extraction (unless done). */
export async function buildImage(release: MachinesRelease, o: { force?: boolean; log?: (s: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<BuildResult> {
  const env = o.env ?? process.env;
  const p = imagePaths(release, env);
  const t0 = Date.now();
  let built = false;
  if (o.force || !existsSync(p.tarball)) {
    mkdirSync(p.dir, { recursive: true, mode: 0o755 });
    const mirror = hostDebianMirror();
    const security = mirror.replace(/\/debian$/, "/debian-security");
    const tmp = `${p.tarball}.tmp-${process.pid}.tar.zst`;
    o.log?.(`building the ${release} image with mmdebstrap from ${mirror} (2–6 min, once)`);
    const hooks = [
      // Made per node at first boot, as on a cloud image.
      'rm -f "$1"/etc/ssh/ssh_host_* "$1"/etc/hostname',
      ': > "$1"/etc/machine-id; rm -f "$1"/var/lib/dbus/machine-id',
      'echo "Acquire::Languages \\"none\\";" > "$1"/etc/apt/apt.conf.d/02uws-nolang',
      // cloud-init looks for a NoCloud seed only (no metadata service probing on a network without one).
      'printf "datasource_list: [ NoCloud, None ]\\n" > "$1"/etc/cloud/cloud.cfg.d/90_uws-machines.cfg',
      'echo "en_US.UTF-8 UTF-8" > "$1"/etc/locale.gen; chroot "$1" locale-gen >/dev/null; chroot "$1" update-locale LANG=en_US.UTF-8',
    ];
    const argv = [
      "mmdebstrap", "--variant=minbase", "--quiet", `--include=${IMAGE_PACKAGES.join(",")}`,
      ...hooks.map((h) => `--customize-hook=${h}`),
      release, tmp,
      `deb ${mirror} ${release} main`, `deb ${mirror} ${release}-updates main`, `deb ${security} ${release}-security main`,
    ];
    try {
      await runLogged(argv, o.log);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    renameSync(tmp, p.tarball);
    rmSync(p.stamp, { force: true });
    built = true;
  }
  if (!existsSync(p.stamp)) {
    rmSync(p.base, { recursive: true, force: true });
    mkdirSync(p.base, { recursive: true, mode: 0o755 });
    o.log?.(`extracting ${p.tarball}`);
    await runLogged(["tar", "--zstd", "-xpf", p.tarball, "-C", p.base, "--xattrs", "--xattrs-include=*", "--numeric-owner"], o.log);
    writeFileSync(p.stamp, `${new Date().toISOString()}\n`);
  }
  return { release, tarball: p.tarball, base: p.base, built, seconds: Math.round((Date.now() - t0) / 1000), tarballBytes: statSync(p.tarball).size };
}

export function removeImage(release: MachinesRelease, env: NodeJS.ProcessEnv = process.env): void {
  rmSync(imagePaths(release, env).dir, { recursive: true, force: true });
}

function runLogged(argv: string[], log?: (s: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const take = (b: Buffer) => { tail = (tail + b.toString()).slice(-4000); };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (e) => reject(new Error(`${argv[0]}: ${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve();
      else { log?.(tail); reject(new Error(`${argv.slice(0, 2).join(" ")} … failed (exit ${code}): ${tail.trim().split("\n").slice(-6).join(" | ")}`)); }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The download mirror (served by the apt proxy as /uws-mirror/)

export function mirrorDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), "machines", "mirror");
}

export interface MirrorInput {
  /** The Node.js executable whose release is mirrored (this process's). */
  nodeExec: string;
  /** The job server's native module as built here: package folder of better-sqlite3. */
  nativeModuleDir: string;
  /** The version the job server bundle asks for. */
  nativeModuleVersion: string;
}

/**
 * Writes (once per Node.js and module version) `node/latest-v<major>.x/` with a release tarball
 * and its SHASUMS256.txt, and `prebuilds/better-sqlite3/v<ver>/` with the prebuilt module.
 */
export async function ensureMirror(i: MirrorInput, o: { log?: (s: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const root = mirrorDir(o.env);
  const version = process.versions.node;
  const major = version.split(".")[0]!;
  const arch = process.arch === "arm64" ? "arm64" : "x64";
  const name = `node-v${version}-linux-${arch}`;
  const nodeDir = join(root, "node", `latest-v${major}.x`);
  const tarball = join(nodeDir, `${name}.tar.xz`);
  if (!existsSync(join(nodeDir, "SHASUMS256.txt")) || !existsSync(tarball)) {
    o.log?.(`making a Node.js ${version} release folder for the nodes from ${i.nodeExec}`);
    const stage = join(root, `.stage-${process.pid}`);
    rmSync(stage, { recursive: true, force: true });
    const top = join(stage, name);
    mkdirSync(join(top, "bin"), { recursive: true });
    mkdirSync(join(top, "lib/node_modules"), { recursive: true });
    const exec = realpathSync(i.nodeExec);
    cpSync(exec, join(top, "bin/node"));
    const npm = [join(dirname(exec), "../lib/node_modules/npm"), "/usr/lib/node_modules/npm", "/usr/local/lib/node_modules/npm", "/usr/share/nodejs/npm"].find((d) => existsSync(join(d, "bin/npm-cli.js")));
    if (!npm) throw new Error(`no npm found beside ${exec}: the nodes' job server install runs npm from the Node.js release folder`);
    cpSync(npm, join(top, "lib/node_modules/npm"), { recursive: true, dereference: true });
    symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(top, "bin/npm"));
    symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(top, "bin/npx"));
    mkdirSync(nodeDir, { recursive: true });
    await runLogged(["sh", "-c", `tar -C "$1" -cf - "$2" | xz -T2 -1 > "$3.tmp" && mv "$3.tmp" "$3"`, "sh", stage, name, tarball], o.log);
    rmSync(stage, { recursive: true, force: true });
    writeFileSync(join(nodeDir, "SHASUMS256.txt"), `${sha256(tarball)}  ${name}.tar.xz\n`);
  }
  const v = i.nativeModuleVersion;
  const abi = process.versions.modules;
  const pre = join(root, "prebuilds", "better-sqlite3", `v${v}`);
  const preFile = join(pre, `better-sqlite3-v${v}-node-v${abi}-linux-${arch}.tar.gz`);
  if (!existsSync(preFile)) {
    const have = JSON.parse(readFileSync(join(i.nativeModuleDir, "package.json"), "utf8")).version as string;
    if (have !== v) throw new Error(`the job server bundle needs better-sqlite3 ${v} but ${i.nativeModuleDir} holds ${have}: run npm ci`);
    const built = join(i.nativeModuleDir, "build/Release/better_sqlite3.node");
    if (!existsSync(built)) throw new Error(`${built} is missing: run npm ci`);
    mkdirSync(pre, { recursive: true });
    const r = spawnSync("tar", ["-czf", `${preFile}.tmp`, "-C", i.nativeModuleDir, "build/Release/better_sqlite3.node"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tar of the prebuilt module failed: ${r.stderr}`);
    renameSync(`${preFile}.tmp`, preFile);
  }
  return root;
}

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}
