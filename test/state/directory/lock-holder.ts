// A second process for the lock tests: locks an application's state directory, says so on
// stdout, then waits until stdin says "unlock" (a clean shutdown) or it is killed.
import { StateDirectory, StateDirectoryLockedError } from '../../../state/directory/state-directory.ts';

const [stateDir, applicationId] = process.argv.slice(2);
if (stateDir === undefined || applicationId === undefined) throw new Error('usage: lock-holder <state.dir> <application.id>');
try {
  const directory = await StateDirectory.lock({ stateDir, applicationId });
  process.stdout.write(`locked ${process.pid}\n`);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (text: string) => {
    if (!text.includes('unlock')) return;
    void directory.unlock().then(() => {
      process.stdout.write('unlocked\n');
      process.exit(0);
    });
  });
} catch (error) {
  if (!(error instanceof StateDirectoryLockedError)) throw error;
  process.stdout.write(`refused ${error.owner.pid}\n`);
  process.exit(3);
}
