// The run-watcher's parts, started in order and closed in reverse.
import { topics } from '@autocal/contracts'
import { readFile } from 'node:fs/promises'
import { AutocalError, buildHttp, connectRedis, createAuditWriter, createMetrics, createTokenIndex, startProducer, type Logger, type TokenIndex, type TokenPrincipal } from '@autocal/runtime'
import type { Config } from './config.ts'
import { createKnownRuns, rebuildIfEmpty, type KnownRuns } from './adapters/known-runs.ts'
import { createEmitter } from './emitter.ts'
import { createSourceMetrics, startSourceLoop, type SourceLoop } from './source-loop.ts'
import { prepareReplay, readReplayFile } from './replay.ts'
import { generateRuns } from './domain/run-generator.ts'
import { recordProblem } from './domain/run-record.ts'
import { createOmsClient } from './adapters/oms-client.ts'
import { clientCredentialsToken } from './adapters/oidc-token.ts'
import { createOmsPoller } from './oms-poller.ts'
import { createT0Client } from './adapters/t0-client.ts'
import { createT0Poller } from './t0-poller.ts'
import { injectRoutes } from './routes.ts'
import { parseInjectTokens } from './inject-tokens.ts'
import { createRecordReporter } from './refused-records.ts'

export const service = 'run-watcher'

export async function startRunWatcher (config: Config, logger: Logger): Promise<AsyncDisposable & { port: number }> {
  // a run list that cannot be read fails the start before anything is connected
  const tokens = await injectTokensOf(config)
  const replayList = config.AUTOCAL_REPLAY_FILE === undefined ? undefined : await readReplayFile(config.AUTOCAL_REPLAY_FILE)
  const stack = new AsyncDisposableStack()
  try {
    const metrics = createMetrics({ service })
    const redis = stack.use(await connectRedis({ config, logger }))
    const producer = stack.use(await startProducer({ config, logger, service, metrics, warm: [topics.runs, topics.runRegistry] }))
    const auditor = stack.use(createAuditWriter({ producer, perMinute: config.AUTOCAL_AUDIT_ANONYMOUS_PER_MINUTE }))
    const known = createKnownRuns(redis)
    await rebuildIfEmpty(redis, known, config, logger, producer)
    const emitter = createEmitter({ redis, producer, known, logger, registry: metrics.registry, instance: config.AUTOCAL_INSTANCE_ID })
    const sourceMetrics = createSourceMetrics(metrics.registry)
    const reporter = createRecordReporter({ redis, producer, logger, registry: metrics.registry, service })
    const loops = new Map<string, SourceLoop>()
    // the replay's Tier-0 facts stand in for a Tier-0: with the real poller, it alone says the FCSR
    const fcsrDelayMs = config.AUTOCAL_REPLAY_FCSR_DELAY_HOURS === false || config.AUTOCAL_T0_URL !== undefined ? undefined : config.AUTOCAL_REPLAY_FCSR_DELAY_HOURS * 3600_000
    if (config.AUTOCAL_T0_URL !== undefined && config.AUTOCAL_REPLAY_FCSR_DELAY_HOURS !== false && (config.AUTOCAL_REPLAY_FILE !== undefined || config.AUTOCAL_GENERATOR_RUNS > 0)) {
      logger.info({ t0: config.AUTOCAL_T0_URL }, 'replayed FCSR facts off: the Tier-0 poller announces the FCSR')
    }
    const backoff = { backoffBaseMs: config.AUTOCAL_SOURCE_BACKOFF_MS, backoffMaxMs: config.AUTOCAL_SOURCE_BACKOFF_MAX_MS }

    if (config.AUTOCAL_REPLAY_FILE !== undefined && replayList !== undefined) {
      await reporter.report('replay', replayList.problems)
      const replay = await prepareReplay({
        source: 'replay',
        id: config.AUTOCAL_REPLAY_FILE,
        runs: replayList.runs,
        scale: config.AUTOCAL_REPLAY_SCALE,
        fromRun: config.AUTOCAL_REPLAY_FROM_RUN,
        toRun: config.AUTOCAL_REPLAY_TO_RUN,
        t0Streams: config.AUTOCAL_REPLAY_T0_STREAMS,
        fcsrDelayMs,
        emitter,
        known,
        logger
      })
      loops.set('replay', startSourceLoop({ ...backoff, name: 'replay', logger, metrics: sourceMetrics, intervalMs: config.AUTOCAL_REPLAY_TICK_MS, work: replay.work, info: replay.info }))
    }
    // the generator stands in for a run list: with a file to replay it stays off
    // (deploy/local/system.ts passes its own environment, AUTOCAL_GENERATOR_RUNS included, with the file it generated)
    if (config.AUTOCAL_GENERATOR_RUNS > 0 && config.AUTOCAL_REPLAY_FILE !== undefined) {
      logger.warn({ generatorRuns: config.AUTOCAL_GENERATOR_RUNS, replayFile: config.AUTOCAL_REPLAY_FILE }, 'AUTOCAL_GENERATOR_RUNS ignored: AUTOCAL_REPLAY_FILE is set')
    } else if (config.AUTOCAL_GENERATOR_RUNS > 0) {
      const options = {
        runs: config.AUTOCAL_GENERATOR_RUNS,
        seed: config.AUTOCAL_GENERATOR_SEED,
        firstRun: config.AUTOCAL_GENERATOR_FIRST_RUN,
        firstFill: config.AUTOCAL_GENERATOR_FIRST_FILL,
        startMs: await generatorStart(config.AUTOCAL_GENERATOR_START, known),
        collisionFraction: config.AUTOCAL_GENERATOR_COLLISION_FRACTION,
        runsPerEra: config.AUTOCAL_GENERATOR_RUNS_PER_ERA
      }
      const generated = generateRuns(options)
      // the generator's settings make its runs: one that breaks the contract is a configuration error
      for (const run of generated) {
        const problem = recordProblem(run)
        if (problem !== undefined) throw new AutocalError('AUTOCAL_CONFIG_INVALID', `AUTOCAL_GENERATOR_FIRST_RUN / AUTOCAL_GENERATOR_RUNS: generated run ${run.run}: ${problem.field}: ${problem.message}`)
      }
      const generator = await prepareReplay({
        source: 'generator',
        id: Object.values(options).join(':'),
        runs: generated,
        scale: config.AUTOCAL_GENERATOR_SCALE,
        t0Streams: config.AUTOCAL_REPLAY_T0_STREAMS,
        fcsrDelayMs,
        emitter,
        known,
        logger
      })
      loops.set('generator', startSourceLoop({ ...backoff, name: 'generator', logger, metrics: sourceMetrics, intervalMs: config.AUTOCAL_REPLAY_TICK_MS, work: generator.work, info: generator.info }))
    }
    if (config.AUTOCAL_OMS_URL !== undefined) {
      const token = config.AUTOCAL_OMS_TOKEN_URL !== undefined && config.AUTOCAL_OMS_CLIENT_ID !== undefined && config.AUTOCAL_OMS_CLIENT_SECRET !== undefined
        ? clientCredentialsToken({ tokenUrl: config.AUTOCAL_OMS_TOKEN_URL, clientId: config.AUTOCAL_OMS_CLIENT_ID, clientSecret: config.AUTOCAL_OMS_CLIENT_SECRET, audience: config.AUTOCAL_OMS_AUDIENCE, timeoutMs: config.AUTOCAL_OMS_TIMEOUT_MS })
        : undefined
      const client = createOmsClient({ baseUrl: config.AUTOCAL_OMS_URL, pageSize: config.AUTOCAL_OMS_PAGE_SIZE, timeoutMs: config.AUTOCAL_OMS_TIMEOUT_MS, globalOnly: config.AUTOCAL_OMS_GLOBAL_ONLY, token, logger })
      const poller = createOmsPoller({ client, firstRun: config.AUTOCAL_OMS_FIRST_RUN, lookbackRuns: config.AUTOCAL_OMS_LOOKBACK_RUNS, emitter, reporter, known, logger })
      loops.set('oms', startSourceLoop({ ...backoff, name: 'oms', logger, metrics: sourceMetrics, intervalMs: config.AUTOCAL_OMS_POLL_MS, work: poller.work, info: poller.info }))
    }
    if (config.AUTOCAL_T0_URL !== undefined) {
      const client = createT0Client({ baseUrl: config.AUTOCAL_T0_URL, timeoutMs: config.AUTOCAL_T0_TIMEOUT_MS })
      const poller = createT0Poller({ client, streams: config.AUTOCAL_T0_STREAMS, datasets: config.AUTOCAL_T0_DATASETS, windowRuns: config.AUTOCAL_T0_WINDOW_RUNS, emitter, known, logger })
      loops.set('t0', startSourceLoop({ ...backoff, name: 't0', logger, metrics: sourceMetrics, intervalMs: config.AUTOCAL_T0_POLL_MS, work: poller.work, info: poller.info }))
    }
    stack.defer(async () => { await Promise.all([...loops.values()].map(async l => { await l.stop() })) })

    const http = await buildHttp({
      logger,
      metrics,
      checks: [redis.check, producer.check],
      details: () => Object.fromEntries([...loops].map(([name, loop]) => [`source:${name}`, loop.status()]))
    })
    await http.register(injectRoutes, { emitter, known, tokens, auditor, service: `autocal/${service}` })
    await http.listen({ host: config.AUTOCAL_HTTP_HOST, port: config.AUTOCAL_HTTP_PORT })
    stack.defer(async () => { await http.close() })
    const address = http.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    logger.info({ sources: [...loops.keys()], injection: tokens.size > 0, port }, 'run-watcher started')
    const moved = stack.move()
    return { port, [Symbol.asyncDispose]: async () => { await moved.disposeAsync() } }
  } catch (err) {
    await stack.disposeAsync()
    throw err
  }
}

/** The generator's start time; "now" is fixed at the first start so that a restart generates the same runs. */
async function generatorStart (start: string, known: KnownRuns): Promise<number> {
  if (start !== 'now') return Date.parse(start)
  const saved = await known.getValue('generator:start')
  if (saved !== undefined) return Number(saved)
  const now = Math.floor(Date.now() / 1000) * 1000
  await known.setValue('generator:start', String(now))
  return now
}

/** The injection tokens, from AUTOCAL_INJECT_TOKENS or the file AUTOCAL_INJECT_TOKENS_FILE (read at start; a bad file fails the start). */
async function injectTokensOf (config: Config): Promise<TokenIndex<TokenPrincipal>> {
  const file = config.AUTOCAL_INJECT_TOKENS_FILE
  const text = file === undefined ? config.AUTOCAL_INJECT_TOKENS : await readFile(file, 'utf8')
  if (text === undefined) return createTokenIndex([])
  const parsed = parseInjectTokens(text, file === undefined ? 'AUTOCAL_INJECT_TOKENS' : `AUTOCAL_INJECT_TOKENS_FILE ${file}`)
  if (typeof parsed === 'string') throw new AutocalError('AUTOCAL_CONFIG_INVALID', parsed)
  return parsed
}
