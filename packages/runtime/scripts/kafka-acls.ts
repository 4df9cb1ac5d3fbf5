// The Kafka ACLs of autocal's service principals: which service may write
// and read which topic. `deploy/local/servers.sh` runs this file against its
// secure broker (as the super user, with the client environment of
// <state>/client.env); a production cluster gets the same table through its
// own tooling (e.g. Strimzi KafkaUser resources, see the root README).
//
//   node packages/runtime/scripts/kafka-acls.ts [--prefix <topic prefix>] [--print]
//
// The broker denies what no ACL allows (StandardAuthorizer,
// allow.everyone.if.no.acl.found=false). The rule that matters most: only the
// task-dispatcher's principal may write jobs.requests, conditions.requests and
// control, the topics whose messages make the executor run programs, the
// uploader write conditions and the dispatcher change task states. The
// metrics principal also writes runs, jobs.status and conditions, only to
// send a dead letter back from the console (consoleRedriveTopics), and audit.
import { parseArgs } from 'node:util'
import kafkajs, { type AclEntry } from 'kafkajs'
import { allTopics, topicName, topics, type TopicId } from '@autocal/contracts'
import { z } from 'zod'
import { connectionEnv, kafkaShape, loadConfig } from '../src/config.ts'
import { createKafka } from '../src/bus/kafka.ts'
import { createLogger } from '../src/logger.ts'
import { consoleRedriveTopics } from '../src/bus/dlq-redrive.ts'

// CommonJS: these enums are not visible as named ESM exports
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs

/** The service principals (SCRAM user names) and the topics each writes and reads. */
export const servicePrincipals: Record<string, { writes: TopicId[], reads: TopicId[] | 'all' }> = {
  // the run registry: the run-watcher writes it and rebuilds its known runs from it; the dispatcher's
  // read model takes run facts from it and the uploader its FCSR, after a Redis loss
  'run-watcher': { writes: ['runs', 'runRegistry', 'audit', 'dlq'], reads: ['runs', 'runRegistry'] },
  'task-dispatcher': {
    writes: ['tasks', 'jobRequests', 'conditionRequests', 'control', 'runs', 'audit', 'dlq', 'campaigns'],
    reads: ['runs', 'runRegistry', 'tasks', 'jobStatus', 'conditions', 'control', 'campaigns']
  },
  // jobs.status too: after a Redis loss the executor rebuilds its open jobs from both topics (job-recovery.ts)
  'job-executor': { writes: ['jobStatus', 'dlq'], reads: ['jobRequests', 'jobStatus'] },
  'condition-uploader': { writes: ['conditions', 'dlq'], reads: ['conditionRequests', 'runs', 'runRegistry', 'conditions'] },
  // the console's DLQ redrive: the audit record, and the dead letter sent back to its source (only these topics)
  metrics: { writes: ['dlq', 'audit', ...consoleRedriveTopics], reads: 'all' }
}

/** The ACL entries of the table above for topics under `prefix` ("" = the plain names). */
export function aclEntries (prefix: string): AclEntry[] {
  const entry = (principal: string, resourceType: number, resourceName: string, operation: number, pattern = ResourcePatternTypes.LITERAL): AclEntry => ({
    principal: `User:${principal}`, host: '*', resourceType, resourceName, resourcePatternType: pattern, operation, permissionType: AclPermissionTypes.ALLOW
  })
  const entries: AclEntry[] = []
  for (const [principal, { writes, reads }] of Object.entries(servicePrincipals)) {
    for (const id of writes) entries.push(entry(principal, AclResourceTypes.TOPIC, topicName(topics[id], prefix), AclOperationTypes.WRITE))
    const readable = reads === 'all' ? allTopics : reads.map(id => topics[id])
    for (const t of readable) entries.push(entry(principal, AclResourceTypes.TOPIC, topicName(t, prefix), AclOperationTypes.READ))
    // every service creates the registry's missing topics at start and reads their metadata
    const namespace = prefix === '' ? 'autocal.' : `${prefix}.autocal.`
    entries.push(entry(principal, AclResourceTypes.TOPIC, namespace, AclOperationTypes.CREATE, ResourcePatternTypes.PREFIXED))
    entries.push(entry(principal, AclResourceTypes.TOPIC, namespace, AclOperationTypes.DESCRIBE, ResourcePatternTypes.PREFIXED))
    // a service's consumer groups start with its name (task-dispatcher, task-dispatcher-recovery-…);
    // it deletes its own throw-away groups (recovery, read-model rebuild)
    const groups = prefix === '' ? principal : `${prefix}.${principal}`
    entries.push(entry(principal, AclResourceTypes.GROUP, groups, AclOperationTypes.READ, ResourcePatternTypes.PREFIXED))
    entries.push(entry(principal, AclResourceTypes.GROUP, groups, AclOperationTypes.DELETE, ResourcePatternTypes.PREFIXED))
  }
  // metrics reports every group's lag
  entries.push(entry('metrics', AclResourceTypes.GROUP, '*', AclOperationTypes.DESCRIBE))
  return entries
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { prefix: { type: 'string', default: '' }, print: { type: 'boolean', default: false } } })
  const entries = aclEntries(values.prefix)
  if (values.print) {
    const nameOf = (table: object, value: number): string => Object.entries(table).find(([, v]) => v === value)?.[0] ?? String(value)
    for (const e of entries) {
      console.log([e.principal, nameOf(AclOperationTypes, e.operation), nameOf(AclResourceTypes, e.resourceType), e.resourceName,
        nameOf(ResourcePatternTypes, e.resourcePatternType)].join(' '))
    }
    return
  }
  const config = loadConfig(z.object(kafkaShape), connectionEnv())
  const logger = createLogger({ service: 'kafka-acls', level: 'warn', destination: process.stderr })
  const admin = createKafka(config, logger, 'autocal-kafka-acls').admin()
  await admin.connect()
  try {
    await admin.createAcls({ acl: entries })
  } finally {
    await admin.disconnect()
  }
  process.stderr.write(`kafka-acls: ${entries.length} ACL entries for ${Object.keys(servicePrincipals).join(', ')}\n`)
}

if (import.meta.main) await main()
