import type { Command } from "./command.js";
import { reap } from "./commands/reap.js";
import { render } from "./commands/render.js";
import { serve } from "./commands/serve.js";
import { synth } from "./commands/synth.js";
import { validate } from "./commands/validate.js";
import { up } from "./commands/up.js";
import { down } from "./commands/down.js";
import { status } from "./commands/status.js";
import { ssh } from "./commands/ssh.js";

/** Every verb of the CLI, in the order --help lists them. */
export const COMMANDS: Command[] = [validate, synth, render, reap, up, down, status, ssh, serve];
