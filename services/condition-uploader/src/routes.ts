// HTTP read API over the local CondDB and the upload history. 64-bit values
// (sinces, END_OF_VALIDITY) are JSON strings, as in the proto3 JSON form.
import type { buildHttp } from '@autocal/runtime'
import type { CondDb } from './adapters/conddb-sqlite.ts'
import type { UploadHistory } from './adapters/upload-history.ts'
import type { FcsrStore } from './adapters/fcsr-store.ts'
import { friendlySince, type TagRow } from './domain/conddb-format.ts'
import { isPayloadHash } from './domain/payload-hash.ts'
import { iovAtRun, parseRun } from './domain/iov-at.ts'

type App = Awaited<ReturnType<typeof buildHttp>>

export interface RouteDeps {
  conddb: CondDb
  history: UploadHistory
  fcsr?: FcsrStore
}

function tagJson (t: TagRow) {
  return {
    name: t.name,
    timeType: t.timeType,
    objectType: t.objectType,
    synchronization: t.synchronization,
    endOfValidity: t.endOfValidity.toString(),
    description: t.description,
    lastValidatedTime: t.lastValidatedTime.toString(),
    insertionTime: t.insertionTime,
    modificationTime: t.modificationTime,
    ...(t.protectionCode === undefined ? {} : { protectionCode: t.protectionCode })
  }
}

export async function conditionRoutes (app: App, deps: RouteDeps): Promise<void> {
  const { conddb, history } = deps

  app.get('/api/v1/tags', async () => ({
    database: conddb.path,
    tags: conddb.listTags().map(t => ({ ...tagJson(t), iovCount: t.iovCount, lastSince: t.lastSince?.toString() ?? null }))
  }))

  app.get<{ Params: { tag: string } }>('/api/v1/tags/:tag', async (req, reply) => {
    const tag = conddb.getTag(req.params.tag)
    if (tag === undefined) return await reply.code(404).send({ error: `no tag '${req.params.tag}' in ${conddb.path}` })
    return { tag: tagJson(tag), log: conddb.tagLog(tag.name) }
  })

  /** All IOVs of a tag; with `?at=<run>` only the one valid at that run (404 if none, 400 for a bad run or a tag not indexed by run). */
  app.get<{ Params: { tag: string }, Querystring: { at?: string } }>('/api/v1/tags/:tag/iovs', async (req, reply) => {
    const tag = conddb.getTag(req.params.tag)
    if (tag === undefined) return await reply.code(404).send({ error: `no tag '${req.params.tag}' in ${conddb.path}` })
    const iovJson = (i: { since: bigint, payloadHash: string, insertionTime: string }) => ({
      since: i.since.toString(),
      sinceText: friendlySince(tag.timeType, i.since),
      payloadHash: i.payloadHash,
      insertionTime: i.insertionTime
    })
    if (req.query.at !== undefined) {
      const run = parseRun(req.query.at)
      if (run.kind === 'bad') return await reply.code(400).send({ error: run.reason })
      const at = iovAtRun(tag.name, tag.timeType, conddb.listIovs(tag.name), run.run)
      if (at.kind === 'bad-request') return await reply.code(400).send({ error: at.reason })
      if (at.kind === 'none') return await reply.code(404).send({ error: at.reason })
      return { tag: tag.name, timeType: tag.timeType, run: run.run.toString(), iov: iovJson(at.iov) }
    }
    return { tag: tag.name, timeType: tag.timeType, iovs: conddb.listIovs(tag.name).map(iovJson) }
  })

  app.get<{ Params: { hash: string } }>('/api/v1/payloads/:hash', async (req, reply) => {
    const hash = req.params.hash.toLowerCase()
    if (!isPayloadHash(hash)) return await reply.code(400).send({ error: `'${req.params.hash}' is not a payload hash (40 hex characters)` })
    const meta = conddb.payloadMeta(hash)
    if (meta === undefined) return await reply.code(404).send({ error: `no payload ${hash} in ${conddb.path}` })
    return meta
  })

  app.get<{ Querystring: { tag?: string, request?: string, limit?: string } }>('/api/v1/uploads', async req => {
    const limit = Number(req.query.limit ?? '100')
    return {
      uploads: history.list({ tag: req.query.tag, requestId: req.query.request, limit: Number.isInteger(limit) ? limit : 100 })
    }
  })

  app.get('/api/v1/fcsr', async () => {
    const fcsr = await deps.fcsr?.get()
    return { fcsr: fcsr ?? null }
  })
}
