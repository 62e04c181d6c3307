import type { Command } from "./command.js";
import { render } from "./commands/render.js";
import { synth } from "./commands/synth.js";
import { validate } from "./commands/validate.js";

/** Every verb of the CLI, in the order --help lists them. */
export const COMMANDS: Command[] = [validate, synth, render];
