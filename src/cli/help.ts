/**
 * `fleetmasq help [TOPIC]`: the user guides of docs/, exactly as they ship in the package (package.json
 * "files" has docs), so the terminal and the web show the same text. `help` alone lists the topics.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, EXIT } from '../errors.js';
import { didYouMean } from '../util/didyoumean.js';
import type { Out } from './output.js';

/** The user guides: docs/TOPIC.md each. architecture.md and benchmarks.md are for developers, not topics. */
export const TOPICS = {
  guide: 'the tasks: rollout, reboot, offline fleets, diagnose, monitoring',
  reference: 'every command and every flag',
  inventory: 'inventories and SSH: what is read, and how',
  security: 'what is verified, and how',
  robots: 'what fleetmasq does on a robot',
  output: 'recaps, JSON, JUnit, HTML, run records, exit codes',
  monitoring: 'compliance as Prometheus metrics, a sweep timer, alert rules',
} as const;

export type Topic = keyof typeof TOPICS;

/** docs/ of this installation (the checkout, or the installed package). */
const DOCS = new URL('../../../docs/', import.meta.url);

export function topicFile(topic: Topic): URL {
  return new URL(`${topic}.md`, DOCS);
}

/** The topics whose guide is present (a branch may declare a topic before its guide is merged). */
export function topics(): Topic[] {
  return (Object.keys(TOPICS) as Topic[]).filter((t) => existsSync(topicFile(t)));
}

function topicList(): string {
  return topics()
    .map((t) => `  ${t.padEnd(11)} ${TOPICS[t]}`)
    .join('\n');
}

export function helpCommand(topic: string | undefined, io: Out): number {
  if (topic === undefined) {
    io.out(`Topics ('fleetmasq help TOPIC' prints the guide; the same text is in docs/TOPIC.md):\n${topicList()}\n`);
    return EXIT.OK;
  }
  const known = topics();
  if (!(known as string[]).includes(topic)) {
    throw new ConfigError(`unknown help topic '${topic}'${didYouMean(topic, known)}; the topics are:\n${topicList()}`);
  }
  io.out(readFileSync(topicFile(topic as Topic), 'utf8'));
  return EXIT.OK;
}
