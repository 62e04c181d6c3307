import { bool, str, UsageError } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { PreflightError } from "../../errors.js";
import type { MachinesRelease } from "../../../stacks/model/index.js";

/**
 * `image build --target machines [--release bookworm|trixie] [--force]`: the machines target's node
 * image (a Debian root filesystem built with mmdebstrap), built once into the cache folder
 * ($UWS_CLUSTER_CACHE, default /var/cache/uws-cluster) and reused by every later cluster; `up`
 * builds it too when it is missing. `image list` shows what is cached.
 */
export const image: Command = {
  usage: "build --target machines [--release bookworm|trixie] [--force] [--json] | list [--json]",
  flags: [
    { name: "target", type: "string", help: "the target whose image to build: machines", default: "machines" },
    { name: "release", type: "string", help: "Debian release: bookworm (12, default) or trixie (13)", default: "bookworm" },
    { name: "force", type: "boolean", help: "build again even when the image is cached" },
  ],
  details: [
    "Builds the Debian root filesystem the machines target boots (systemd, cloud-init, openssh-server; no SSH host",
    "keys, an empty machine-id) with mmdebstrap from the Debian archive this machine uses, as a zstd tarball plus its",
    "extraction, shared read-only by every node. 2-6 minutes once; needs root and the mmdebstrap package.",
  ].join("\n"),
  async run(args, ctx) {
    const [sub] = args.positional;
    const { buildImage, imagePaths, imageReady, RELEASES } = await import("../../../stacks/machines/image.js");
    if (sub === "list") {
      const images = RELEASES.map((r) => ({ release: r, ready: imageReady(r, ctx.env), path: imagePaths(r, ctx.env).dir }));
      emit(ctx, { ok: true, images }, images.map((i) => `${i.release.padEnd(9)} ${i.ready ? "ready " : "absent"} ${i.path}`).join("\n"));
      return EXIT.ok;
    }
    if (sub !== "build") throw new UsageError("usage: uws-cluster image build --target machines [--release bookworm|trixie] [--force] | image list");
    const target = str(args, "target") ?? "machines";
    if (target !== "machines") throw new UsageError(`--target: only the machines target has an image to build, got ${target}`);
    const release = (str(args, "release") ?? "bookworm") as MachinesRelease;
    if (!RELEASES.includes(release)) throw new UsageError(`--release must be one of ${RELEASES.join(", ")}, got ${release}`);
    if ((process.getuid?.() ?? 0) !== 0) throw new PreflightError("building the image needs root (mmdebstrap creates device nodes and owners): run it as root");
    const log = (s: string) => { if (!ctx.json) ctx.stderr.write(s.endsWith("\n") ? s : s + "\n"); };
    const r = await buildImage(release, { force: bool(args, "force"), log, env: ctx.env });
    emit(ctx, { ok: true, ...r }, `${r.built ? "built" : "cached"}: ${release} image ${r.tarball} (${Math.round(r.tarballBytes / 1048576)} MiB) in ${r.seconds} s`);
    return EXIT.ok;
  },
};
