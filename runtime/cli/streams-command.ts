// `runnel streams reset`, after Kafka's application reset tool: rewinds a streams application's
// input offsets, skips its intermediate topics to their end, deletes its internal topics and
// local state, so that its next run recomputes everything from the chosen point.
import { Admin, type ResetTarget } from '../client/admin.ts';
import { resetApplication, ResetError, type ResetPlan, type ResetStep } from '../streams/reset.ts';
import { asCliErrors, bootstrapServer, dateTimeFlag, durationFlag, offsetFlag, parseFlags, requireFlag, table } from './client-args.ts';
import { CliError, type Command } from './command.ts';
import { progressLine } from './progress.ts';

const HELP = `Usage: runnel streams reset --application-id <id> [options]

Rewinds a stopped streams application so that its next run recomputes everything:
input offsets go to the target, intermediate topics to their end, internal topics
(<id>-...-changelog, <id>-...-repartition, foreign-key subscription topics) are deleted,
and with --state-dir the local state <state-dir>/<id> is removed.

Options:
  --bootstrap-server <host:port>   a broker to start from (default 127.0.0.1:9092)
  --application-id <id>            the application (its consumer group has the same id)
  --input-topics <a,b,...>         topics the application reads, rewound to the target
  --intermediate-topics <a,b,...>  topics it writes and reads back, moved to their end
  --internal-topics <a,b,...>      more internal topics to delete than found by name
  --state-dir <dir>                the application's state.dir (removes <dir>/<id>)
  --to-earliest                    target: each partition's earliest offset (the default)
  --to-latest                      target: each partition's end
  --to-offset <n>                  target: offset n (kept within earliest..latest)
  --to-datetime <ISO-8601>         target: the first offset at or after this time
  --by-duration <ISO-8601 duration> target: the first offset at or after now minus this (e.g. PT1H)
  --dry-run                        print what would change and change nothing
  --help                           show this help`;

const FLAGS = {
  'bootstrap-server': { type: 'string' },
  'application-id': { type: 'string' },
  'input-topics': { type: 'string', multiple: true },
  'intermediate-topics': { type: 'string', multiple: true },
  'internal-topics': { type: 'string', multiple: true },
  'state-dir': { type: 'string' },
  'to-earliest': { type: 'boolean' },
  'to-latest': { type: 'boolean' },
  'to-offset': { type: 'string' },
  'to-datetime': { type: 'string' },
  'by-duration': { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>;

export const streamsCommand: Command = {
  name: 'streams',
  summary: 'reset a streams application for reprocessing',
  async run(argv) {
    const [action, ...rest] = argv;
    if (action === undefined || action === '--help' || action === '-h') { console.log(HELP); return; }
    if (action !== 'reset') throw new CliError(`unknown streams action '${action}'`, 'use: runnel streams reset --help');
    const flags = parseFlags(rest, FLAGS, 'streams reset');
    if (flags.help === true) { console.log(HELP); return; }
    const applicationId = requireFlag(flags['application-id'], '--application-id', 'page-views');
    const target = resetTarget(flags, Date.now());
    const bootstrap = bootstrapServer(flags['bootstrap-server']);
    const admin = await asCliErrors(async () => new Admin({ bootstrapServers: bootstrap, clientId: 'runnel-streams-reset' }), 'streams');
    try {
      const plan = await resetApplication(admin, {
        applicationId,
        inputTopics: topicList(flags['input-topics']),
        intermediateTopics: topicList(flags['intermediate-topics']),
        internalTopics: topicList(flags['internal-topics']),
        target,
        ...(flags['state-dir'] === undefined ? {} : { stateDir: flags['state-dir'] }),
        dryRun: flags['dry-run'] === true,
      }, showProgress);
      printPlan(applicationId, plan, flags['dry-run'] === true);
    } catch (error) {
      if (error instanceof ResetError) throw new CliError(error.message, 'check the application id and topic names (runnel topics list, runnel groups describe --group <id>)');
      throw error;
    } finally {
      await admin.close();
    }
  },
};

/** Comma-separated and repeated flags alike, as Kafka's tools accept `--input-topics a,b`. */
function topicList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(',')).map((topic) => topic.trim()).filter((topic) => topic !== '');
}

/** The one target the flags name (earliest when none does); `now` anchors --by-duration. */
export function resetTarget(flags: Pick<Flags, 'to-earliest' | 'to-latest' | 'to-offset' | 'to-datetime' | 'by-duration'>, now: number): ResetTarget {
  const given = [flags['to-earliest'] === true, flags['to-latest'] === true, flags['to-offset'] !== undefined, flags['to-datetime'] !== undefined, flags['by-duration'] !== undefined].filter(Boolean).length;
  if (given > 1) throw new CliError('streams reset takes one target', 'give one of --to-earliest, --to-latest, --to-offset, --to-datetime, --by-duration');
  if (flags['to-latest'] === true) return 'latest';
  if (flags['to-offset'] !== undefined) return { offset: offsetFlag(flags['to-offset'], '--to-offset') };
  if (flags['to-datetime'] !== undefined) return { timestamp: dateTimeFlag(flags['to-datetime'], '--to-datetime') };
  if (flags['by-duration'] !== undefined) {
    return { timestamp: now - durationFlag(flags['by-duration'], '--by-duration', false, ['PT1H30M', 'P2D']) };
  }
  return 'earliest';
}

const STEP_NAMES: Record<ResetStep, string> = { plan: 'planning offsets', offsets: 'committing offsets', topics: 'deleting internal topics', state: 'removing local state' };

function showProgress(step: ResetStep, done: number, total: number): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(`\r${progressLine(STEP_NAMES[step], done, total)}${done >= total ? '\n' : ''}`);
}

function printPlan(applicationId: string, plan: ResetPlan, dryRun: boolean): void {
  const offsets = [...plan.inputOffsets.map((entry) => ({ ...entry, kind: 'input' })), ...plan.intermediateOffsets.map((entry) => ({ ...entry, kind: 'intermediate' }))];
  if (offsets.length > 0) {
    console.log(table([['GROUP', 'TOPIC', 'KIND', 'PARTITION', 'NEW-OFFSET'], ...offsets.map((entry) => [applicationId, entry.topic, entry.kind, String(entry.partition), entry.offset.toString()])]));
  } else {
    console.log('No input or intermediate topics given: offsets stay as they are.');
  }
  const verb = dryRun ? 'would delete' : 'deleted';
  console.log(plan.internalTopics.length === 0 ? 'No internal topics found.' : `Internal topics ${verb}: ${plan.internalTopics.join(', ')}`);
  if (plan.localState !== null) console.log(`Local state ${dryRun ? 'would be removed' : 'removed'}: ${plan.localState}`);
  if (dryRun) console.error('\nThis was a dry run: nothing changed. Run again without --dry-run to apply it.');
  else console.log(`\nApplication '${applicationId}' is reset; its next run recomputes from the new offsets.`);
}
