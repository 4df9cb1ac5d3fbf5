// Writes src/index.ts: explicit named exports of every generated message,
// enum and service, plus the hand-written topic registry and task state names.
// Run by `pnpm gen` after buf generate.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const src = new URL('../src/', import.meta.url).pathname
const genFiles = readdirSync(join(src, 'gen'), { recursive: true, encoding: 'utf8' })
  .filter(f => f.endsWith('_pb.ts')).sort()

const lines = [
  '// Public surface of @autocal/contracts: the generated messages, their schemas and',
  '// JSON types, the gRPC service descriptor, the topic registry and the task state names.',
  '// Written by scripts/write-index.ts (`pnpm gen`); src/gen is never edited by hand.',
  ''
]
for (const file of genFiles) {
  const text = readFileSync(join(src, 'gen', file), 'utf8')
  const values: string[] = []
  const types: string[] = []
  for (const [, kind, name] of text.matchAll(/^export (const|type) (\w+)/gm)) {
    if (name === undefined || name.startsWith('file_')) continue
    ;(kind === 'const' ? values : types).push(name)
  }
  const from = './' + relative(src, join(src, 'gen', file))
  const onlyTypes = types.filter(t => !values.includes(t))
  if (values.length > 0) lines.push(`export {\n  ${values.join(',\n  ')}\n} from '${from}'`)
  if (onlyTypes.length > 0) lines.push(`export type {\n  ${onlyTypes.join(',\n  ')}\n} from '${from}'`)
}
lines.push("export { topics, allTopics, topicName, taskKey, registryKey, headers, contentTypes } from './topics.ts'")
lines.push("export type { Topic, Topics, TopicId, TopicSettings, EventMeta } from './topics.ts'")
lines.push("export { taskStateNames, taskStateName } from './task-states.ts'")
lines.push("export type { TaskStateName } from './task-states.ts'")
lines.push("export { nameKinds, nameProblem, isValidName, runLimit, runProblem } from './names.ts'")
lines.push("export type { NameKind } from './names.ts'")
lines.push("export { maxJobResults, messageProblem, resultsProblem, runRecordProblem, selectorProblem, uint32OverflowProblem } from './message-check.ts'")
lines.push("export { condorJobFlavours, accountingGroupRe, passedEnvProblem } from './job-options.ts'")
lines.push("export { taskResults } from './job-results.ts'")
writeFileSync(join(src, 'index.ts'), lines.join('\n') + '\n')
