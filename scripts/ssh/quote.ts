/** POSIX shell quoting for remote commands: every argument becomes one literal word. */
export function shq(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function shCommand(argv: string[]): string {
  return argv.map(shq).join(" ");
}
