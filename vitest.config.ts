import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Suites that start daemons (Slurm, sshd, OpenStack) must not run side by side on 2 cores.
    fileParallelism: false,
    reporters: ["default"],
  },
});
