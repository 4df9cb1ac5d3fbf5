// An uploader running in-process against the real local Kafka and Redis,
// with a producer to send it requests and run facts and a consumer that
// collects what it publishes on autocal.conditions.v1.
import { create } from '@bufbuild/protobuf'
import {
  ConditionRequestSchema, ProvenanceSchema, RunEventSchema, topics,
  type ConditionEvent, type ConditionRequest, type DeadLetter, type EventMeta
} from '@autocal/contracts'
import { startConsumer, startProducer, type Consumer, type Producer } from '@autocal/runtime'
import type { MessageInitShape } from '@bufbuild/protobuf'
import type { Config } from '../../src/config.ts'
import { startUploader, type Uploader } from '../../src/app.ts'
import { memoryLogger, testConfig, until } from './fixtures.ts'

export interface Harness extends AsyncDisposable {
  config: Config
  uploaders: Uploader[]
  producer: Producer
  events: Array<{ event: ConditionEvent, meta: EventMeta }>
  send: (init: MessageInitShape<typeof ConditionRequestSchema>) => Promise<ConditionRequest>
  sendFcsr: (fcsr: number) => Promise<void>
  /** Waits for the events of a request (at least `count`) and returns them. */
  outcomeOf: (requestId: string, count?: number) => Promise<ConditionEvent[]>
  get: (path: string) => Promise<any>
  deadLetters: DeadLetter[]
  /** Log lines of the uploaders (JSON). */
  logs: Array<Record<string, any>>
}

export const provenance = {
  subsystem: 'ECAL', campaign: 'prompt', workflow: 'timing', workflowVersion: 'sha256:abc', blockId: 'run-355100', task: 'timing-calib', taskAttempt: 1, inputRuns: [355100]
}

export async function startHarness (dataDir: string, overrides: Record<string, string> = {}, replicas = 1): Promise<Harness> {
  const config = testConfig(dataDir, overrides)
  const { logger, lines } = memoryLogger()
  const stack = new AsyncDisposableStack()
  try {
    const producer = stack.use(await startProducer({ config, logger, service: 'test' }))
    const uploaders: Uploader[] = []
    for (let i = 0; i < replicas; i++) uploaders.push(stack.use(await startUploader(config, logger)))
    const events: Harness['events'] = []
    const deadLetters: DeadLetter[] = []
    const collector: Consumer = stack.use(await startConsumer({
      config,
      logger,
      service: 'test',
      producer,
      group: 'test-collector',
      handlers: {
        conditions: async (event, meta) => { events.push({ event, meta }) },
        dlq: async letter => { deadLetters.push(letter) }
      }
    }))
    void collector
    const get = async (path: string): Promise<any> => {
      const res = await fetch(new URL(path, uploaders[0]!.url))
      return { status: res.status, body: await res.json() }
    }
    const moved = stack.move()
    return {
      config,
      uploaders,
      producer,
      events,
      deadLetters,
      get,
      logs: lines,
      send: async init => {
        const req = create(ConditionRequestSchema, init)
        req.provenance ??= create(ProvenanceSchema, provenance)
        await producer.publish(topics.conditionRequests, req, { eventId: `conditions.requests/${req.requestId}` })
        return req
      },
      sendFcsr: async fcsr => {
        await producer.publish(topics.runs, create(RunEventSchema, { run: fcsr, source: 't0', contentHash: `fcsr-${fcsr}`, change: { case: 'fcsr', value: { fcsr } } }),
          { eventId: `runs/${fcsr}/fcsr/fcsr-${fcsr}` })
        await until(`FCSR ${fcsr} known`, async () => (await get('/api/v1/fcsr')).body.fcsr >= fcsr)
      },
      outcomeOf: async (requestId, count = 1) => {
        await until(`outcome of ${requestId}`, () => events.filter(e => e.event.requestId === requestId).length >= count)
        return events.filter(e => e.event.requestId === requestId).map(e => e.event)
      },
      [Symbol.asyncDispose]: async () => { await moved.disposeAsync() }
    }
  } catch (err) {
    await stack.disposeAsync()
    throw err
  }
}
