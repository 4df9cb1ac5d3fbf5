// A local OTLP/HTTP (JSON) trace receiver for tests: what Jaeger's collector
// would receive. Keeps every span with its service name.
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'

export interface ReceivedSpan {
  service: string
  name: string
  traceId: string
  spanId: string
  parentSpanId: string
  attributes: Record<string, unknown>
}

export interface OtlpReceiver extends AsyncDisposable {
  /** e.g. http://127.0.0.1:43123/v1/traces */
  url: string
  spans: ReceivedSpan[]
}

function attributeValue (v: Record<string, unknown> | undefined): unknown {
  if (v === undefined) return undefined
  return v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue
}

export async function startOtlpReceiver (): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        for (const rs of body.resourceSpans ?? []) {
          const service = String(attributeValue(rs.resource?.attributes?.find((a: any) => a.key === 'service.name')?.value) ?? '')
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                service,
                name: s.name,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? '',
                attributes: Object.fromEntries((s.attributes ?? []).map((a: any) => [a.key, attributeValue(a.value)]))
              })
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      } catch (err) {
        res.writeHead(400).end(String(err))
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    [Symbol.asyncDispose]: async () => { server.closeAllConnections(); server.close() }
  }
}
