// What every `runnel` sub-command shares: a name, a one-line summary and a run function. A
// CliError carries what was wrong and how to fix it; main prints both and exits with 2.

export interface Command {
  name: string;
  summary: string;
  run(argv: string[]): Promise<void>;
}

export class CliError extends Error {
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}
