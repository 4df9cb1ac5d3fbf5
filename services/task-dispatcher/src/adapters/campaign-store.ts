// The runtime campaigns' definitions on autocal.campaigns.v1 (compacted, one
// partition, keyed by campaign name). At start a replica reads the topic from
// its beginning to its end (readTopic) before it takes runs, so its catalog
// has every runtime campaign; then it follows the topic with a consumer group
// of its own, so a change made through another replica reaches it. The
// control API writes a change here (`put`): published, then applied at once
// in this replica. The one partition gives every replica the same order:
// the last definition of a campaign in the log wins (a later message of the
// same revision too: two replicas that changed one campaign at once converge
// on the log's order).
import { topics, type CampaignDefinition } from '@autocal/contracts'
import { readTopic, startConsumer, type Consumer, type ConsumerConfig, type Logger, type Metrics, type Producer } from '@autocal/runtime'
import { supersedes } from '../domain/campaign-definitions.ts'

export interface CampaignStore extends AsyncDisposable {
  /** Every definition held now (closed ones too), by name. */
  definitions: () => Map<string, CampaignDefinition>
  /** Publishes a changed definition and applies it in this replica before it resolves. */
  put: (definition: CampaignDefinition) => Promise<void>
  /** The consumer's health check (readiness). */
  check: Consumer['check']
}

export interface CampaignStoreDeps {
  config: ConsumerConfig
  logger: Logger
  producer: Producer
  metrics?: Metrics
  service: string
  /** This replica's id: its follower group is `<service>-campaigns-<instance>`, deleted when it stops. */
  instance: string
  /** Called with every definition held after one changed (at start: once, after the whole topic was read). */
  onChange: (definitions: Map<string, CampaignDefinition>, changed: CampaignDefinition | undefined) => Promise<void> | void
}

/** The reader group prefix of the start-up read (starts with the service's name, as the Kafka ACLs require). */
export const campaignsReader = 'task-dispatcher-campaigns'

/**
 * Reads every stored definition, calls `onChange` once with them, then
 * follows the topic. Throws when the topic cannot be read at start (the
 * dispatcher does not start with campaigns missing).
 */
export async function startCampaignStore (deps: CampaignStoreDeps): Promise<CampaignStore> {
  const log = deps.logger.child({ component: 'campaigns' })
  const held = new Map<string, CampaignDefinition>()
  /** Keeps `d` when it supersedes the held one (domain/campaign-definitions.ts); true when it changed what is held. */
  const apply = (d: CampaignDefinition): boolean => {
    if (!supersedes(held.get(d.name), d)) return false
    held.set(d.name, d)
    return true
  }
  const read = await readTopic(deps.config, deps.logger, campaignsReader, topics.campaigns, async d => { apply(d) })
  await deps.onChange(held, undefined)
  log.info({ messages: read, campaigns: [...held.keys()] }, 'runtime campaigns loaded')
  const follower = await startConsumer({
    config: deps.config,
    logger: deps.logger,
    service: deps.service,
    producer: deps.producer,
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
    group: `${deps.service}-campaigns-${deps.instance}`,
    fromBeginning: true,
    deleteGroupOnClose: true,
    handlers: {
      campaigns: async d => {
        if (!apply(d)) return
        log.info({ campaign: d.name, revision: d.revision, by: d.changedBy }, 'runtime campaign changed')
        await deps.onChange(held, d)
      }
    }
  })
  return {
    definitions: () => held,
    put: async d => {
      await deps.producer.publish(topics.campaigns, d, { eventId: `campaigns/${d.name}/${d.revision}` })
      if (apply(d)) await deps.onChange(held, d)
    },
    check: follower.check,
    [Symbol.asyncDispose]: async () => { await follower[Symbol.asyncDispose]() }
  }
}
