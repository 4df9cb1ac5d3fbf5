// GET /jobs/:id/log?try=N&tail=LINES&follow=1
// The job id is URL-encoded (it contains '/'). `tail` returns the last lines;
// `follow` keeps the response open and streams new lines until the job ends.
// Served only to a bearer read token (AUTOCAL_READ_TOKENS) unless the
// deployment made logs public (AUTOCAL_READ_PUBLIC=true); a refusal is 401,
// logged with the peer.
import { setTimeout as delay } from 'node:timers/promises'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { bearerOfHeader, type Logger } from '@autocal/runtime'
import type { JobStore } from './adapters/job-store.ts'

const fileSafe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_')

export interface LogRoutesOptions {
  dataDir: string
  store: JobStore
  logger: Logger
  /** 'public', or the check of a presented bearer token: the principal it belongs to, or undefined. */
  reader: 'public' | ((token: string | undefined) => string | undefined)
}

export async function logRoutes (app: FastifyInstance, options: LogRoutesOptions): Promise<void> {
  app.get<{ Params: { id: string }, Querystring: { try?: string, tail?: string, follow?: string } }>('/jobs/:id/log', async (req, reply) => {
    const jobId = req.params.id
    if (options.reader !== 'public') {
      const token = bearerOfHeader(req.headers.authorization)
      const principal = options.reader(token)
      if (principal === undefined) {
        options.logger.warn({ peer: req.ip, job: jobId, reason: token === undefined ? 'missing bearer token' : 'unknown token' }, 'job log request refused')
        return await reply.code(401).header('www-authenticate', 'Bearer').send({ error: token === undefined ? 'a read token is needed (Authorization: Bearer <token>)' : 'token not accepted' })
      }
    }
    const attempt = req.query.try === undefined ? 1 : Number(req.query.try)
    if (!Number.isInteger(attempt) || attempt < 1) return await reply.code(400).send({ error: 'try: expected a positive integer' })
    const tail = req.query.tail === undefined ? undefined : Number(req.query.tail)
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) return await reply.code(400).send({ error: 'tail: expected a non-negative integer' })
    const file = join(options.dataDir, 'logs', 'jobs', `${fileSafe(jobId)}.${attempt}.log`)
    if (!existsSync(file)) return await reply.code(404).send({ error: `no log for job ${jobId} try ${attempt}` })
    let text = await readFile(file, 'utf8')
    if (tail !== undefined) text = text.split('\n').slice(-(tail + 1)).join('\n')
    if (req.query.follow !== '1' && req.query.follow !== 'true') return await reply.type('text/plain; charset=utf-8').send(text)

    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' })
    reply.raw.write(text)
    let offset = statSync(file).size
    const key = `${jobId}#${attempt}`
    while (!reply.raw.destroyed) {
      await delay(250)
      const size = statSync(file).size
      if (size > offset) {
        for await (const chunk of createReadStream(file, { start: offset, end: size - 1 })) reply.raw.write(chunk)
        offset = size
      }
      if (await options.store.isDone(key)) break
    }
    reply.raw.end()
  })
}
