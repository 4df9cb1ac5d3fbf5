// The uploader assembled: local CondDB, history, Redis, producer, HTTP API,
// then the consumers (last to open, first to close). Used by index.ts and by
// the integration tests, which run it in-process.
import { topics } from '@autocal/contracts'
import {
  AutocalError, buildHttp, connectRedis, createMetrics, guardReads, readAccessOf, startConsumer, startProducer, type Logger
} from '@autocal/runtime'
import { conddbPath, historyPath, type Config } from './config.ts'
import { openCondDb } from './adapters/conddb-sqlite.ts'
import { createDropboxClient } from './adapters/dropbox-client.ts'
import { createFcsrStore, restoreFcsrFromRegistry, rewindRunsGroup } from './adapters/fcsr-store.ts'
import { openUploadHistory } from './adapters/upload-history.ts'
import { createHandlers } from './handlers.ts'
import { conditionRoutes } from './routes.ts'

export const service = 'condition-uploader'

export interface Uploader extends AsyncDisposable {
  /** Base URL of the HTTP server. */
  url: string
}

export async function startUploader (config: Config, logger: Logger): Promise<Uploader> {
  const stack = new AsyncDisposableStack()
  // aborted first on close: a handler waiting out a retry (dropbox step, tag lease) ends at once, its message uncommitted
  const stopping = new AbortController()
  try {
    const conddb = openCondDb(conddbPath(config), { user: config.AUTOCAL_CONDDB_USER })
    stack.defer(() => { conddb.close() })
    const history = openUploadHistory(historyPath(config))
    stack.defer(() => { history.close() })
    const metrics = createMetrics({ service })
    const redis = stack.use(await connectRedis({ config, logger }))
    const producer = stack.use(await startProducer({ config, logger, service, metrics, warm: [topics.conditions] }))
    const fcsr = createFcsrStore(redis)
    const dropbox = config.AUTOCAL_UPLOAD_TARGET === 'dropbox'
      ? createDropboxClient({
        url: config.AUTOCAL_DROPBOX_URL,
        username: config.AUTOCAL_DROPBOX_USERNAME ?? '',
        password: config.AUTOCAL_DROPBOX_PASSWORD ?? '',
        retries: config.AUTOCAL_DROPBOX_RETRIES,
        retryDelayMs: config.AUTOCAL_DROPBOX_RETRY_MS,
        timeoutMs: config.AUTOCAL_DROPBOX_TIMEOUT_MS,
        signal: stopping.signal,
        onStep: (step, detail) => { logger.debug({ step, detail }, 'dropbox step') }
      })
      : undefined
    const handlers = createHandlers({ config, logger, producer, redis, conddb, history, fcsr, dropbox, signal: stopping.signal })
    const checks = [redis.check, producer.check]
    const http = await buildHttp({ logger, metrics, checks })
    // the read API behind a read token unless public; /healthz, /readyz, /metrics stay open
    guardReads(http, { access: readAccessOf(config), logger })
    stack.defer(async () => { await http.close() })
    await http.register(conditionRoutes, { conddb, history, fcsr })
    const address = await http.listen({ host: config.AUTOCAL_HTTP_HOST, port: config.AUTOCAL_HTTP_PORT })
    logger.info({ address, target: config.AUTOCAL_UPLOAD_TARGET, conddb: conddb.path }, 'condition-uploader listening')

    const fcsrGroup = `${service}-fcsr`
    if (await fcsr.get() === undefined) {
      await restoreFcsrFromRegistry(config, logger, fcsr)
      await rewindRunsGroup(config, logger, fcsrGroup)
    }
    const runsConsumer = stack.use(await startConsumer({
      config, logger, service, metrics, producer, group: fcsrGroup, handlers: { runs: async m => { await handlers.onRun(m) } }
    }))
    const requestsConsumer = stack.use(await startConsumer({
      config, logger, service, metrics, producer, group: service, handlers: { conditionRequests: handlers.onConditionRequest }
    }))
    checks.push(runsConsumer.check, requestsConsumer.check)
    stack.defer(() => { stopping.abort(new AutocalError('AUTOCAL_SHUTTING_DOWN', 'condition-uploader stopping; the message stays uncommitted')) })
    logger.info({ topics: [producer.nameOf(topics.conditionRequests), producer.nameOf(topics.runs)] }, 'condition-uploader consuming')
    const moved = stack.move()
    return { url: address, [Symbol.asyncDispose]: async () => { await moved.disposeAsync() } }
  } catch (err) {
    await stack.disposeAsync()
    throw err
  }
}
