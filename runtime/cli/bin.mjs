#!/usr/bin/env node
// The installed `runnel` command. The sources are TypeScript, so this shim registers tsx's
// loader (resolved from this package, wherever the command is run from) and hands over to main.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));
