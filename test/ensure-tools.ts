// Runs before `npm test` (the pretest script): the compatibility suites drive kcat, a client
// this project did not write, so a fresh Debian machine gets it from apt-get here.
import { execFileSync, spawnSync } from 'node:child_process';

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

if (!has('kcat')) {
  if (has('apt-get') && process.getuid?.() === 0) {
    console.log('pretest: installing kcat with apt-get');
    try {
      execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat'], { stdio: 'inherit' });
    } catch {
      console.warn('pretest: apt-get could not install kcat; the kcat compatibility tests will fail');
    }
  } else {
    console.warn('pretest: kcat is missing; install it (apt-get install kcat) or the kcat compatibility tests will fail');
  }
}
